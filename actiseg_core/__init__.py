"""ActiSeg core library: data, noise, metrics, model, learners, runtime and gating. Never imports rclpy."""
