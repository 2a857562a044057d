"""Where hwk4tune's dashboards (Ray's, optuna-dashboard) listen unless told otherwise: the loopback address,
so that nothing is reachable from the network by default (:mod:`hwk4tune.cluster.dashboard` warns for any
other address). One constant, imported by every command line flag and function that takes a host."""

LOCAL_HOST = "127.0.0.1"
