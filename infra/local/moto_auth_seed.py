"""Seeds the authenticating moto (S3 with IAM checks): an IAM user allowed s3:*, its access
key, and the bucket; writes an AWS shared-credentials file with that key (profile
`chainlake-test`) and a key moto does not know (profile `wrong`). Exactly four requests run
before moto starts checking credentials (INITIAL_NO_AUTH_ACTION_COUNT=4)."""
import json
import sys

import boto3

endpoint, bucket, out = sys.argv[1:4]
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="seed", aws_secret_access_key="seed")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="chainlake")
key = iam.create_access_key(UserName="chainlake")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_user_policy(UserName="chainlake", PolicyName="s3-all", PolicyDocument=json.dumps(policy))
boto3.client("s3", **kw).create_bucket(Bucket=bucket)
with open(out, "w") as f:
    f.write(
        "[chainlake-test]\n"
        f"aws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
        "[wrong]\n"
        "aws_access_key_id = AKIAWRONGWRONGWRONG00\n"
        "aws_secret_access_key = not-a-secret\n"
    )
