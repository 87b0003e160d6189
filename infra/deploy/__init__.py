"""Deploying Helpline to AWS: packaging, template assembly, IAM, change sets, destroy.

`helpline package` builds one Chalice deployment per function (a zip and a
CloudFormation template that imports the shared stack's exports); `helpline deploy`
checks everything offline first, uploads, and applies the shared stack and then each
function stack through change sets; `helpline destroy` removes them again. The
function table in `functions.py` is the one place that says what each function is.
"""
