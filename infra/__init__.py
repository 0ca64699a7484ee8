"""The AWS CDK app of the Customer Lakehouse: six stacks, synthesized offline and checked by cdk-nag."""
