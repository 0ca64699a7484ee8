"""AWS Lambda functions of the lakehouse (each folder is one function's code)."""
