"""The files hwk4tune leaves and reads: typed records, remote storage, the files Ray Tune writes."""
