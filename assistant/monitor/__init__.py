"""即時異常偵測 / the transfer monitor: each transfer scored on arrival (rules as data, an online
anomaly model, per-account state), decided pass / alert / hold with its reasons in words."""
