"""Executive recovery reports in the reporting service: composition, schedule runs, cadence, delivery."""
