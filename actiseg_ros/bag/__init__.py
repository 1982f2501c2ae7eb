"""Rosbag tools (``actiseg-bag``): ActionVOS-layout splits recorded as rosbag2, and their replay scored by the
evaluator (:mod:`actiseg_core.evaluation`).

- :mod:`~actiseg_ros.bag.format`: the topics, the message types and reading a bag back (:class:`BagFrame`);
- :mod:`~actiseg_ros.bag.record`: ``to-bag``;
- :mod:`~actiseg_ros.bag.replay`: ``replay``, offline through the stream logic or live through a running node;
- :mod:`~actiseg_ros.bag.live`: the live player (rclpy; imported only for ``--live``);
- :mod:`~actiseg_ros.bag.cli`: the command line.

Nothing here imports rclpy except :mod:`~actiseg_ros.bag.live`, so recording and offline replay need only
``rosbags``.
"""
