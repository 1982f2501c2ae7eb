"""Which registered learners keep a selection log: shared by the selection-log and the training tests."""

SELECTING = ("coteaching", "pmhm_select", "query_select", "relabel", "pmhm_relabel", "mention_select")
