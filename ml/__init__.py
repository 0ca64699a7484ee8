"""Machine learning on the lakehouse: point-in-time customer features, churn / purchase-propensity / CLV models
with honest baselines and temporal evaluation, and the scores served to the warehouse and DynamoDB (docs/ml.md).

A stage: imports :mod:`lakehouse.core` only.
"""
