"""Running detectors: the job (claim a slot, run the pipeline, store findings and status),
the scheduler lease that says which process runs jobs, and the /detectors API."""
