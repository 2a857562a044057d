"""Everything that talks to Ray Tune: searchers and schedulers, stoppers, trainables, recovery, Ray start-up."""
