"""How a script becomes a process: the spawn server and its client, the sandbox, resource
limits, sessions, pipes, captured output, the environment and working directories.
remediations.runner is the one caller outside this package."""
