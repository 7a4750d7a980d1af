"""Reports: alert volume, response times, noisy detectors and remediation results over time."""
