"""Evaluation suite: metrics, output-based and embedding-based membership attacks."""
