"""Deploying lakecrew itself: the Asset Bundle of the sweep job and cluster-policy apply."""
