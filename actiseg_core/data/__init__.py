"""Data: the ActionVOS layout, its loader, prompt building and the ActiSeg-Sim renderer."""
