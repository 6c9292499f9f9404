"""Pure routing rules: effective policy, owner routes, decisions, history rows, suppression trends."""
