"""Evaluation: Table 2/3 metrics over a dataset split, region statistics, reports, figures and the ablation."""
