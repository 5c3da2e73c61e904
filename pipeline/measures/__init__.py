"""What managers steer by: KPIs from the store's views, targets, baselines, ISO weeks."""
