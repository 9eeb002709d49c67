"""make deploy, make package, make table: the stage read from .chalice/config.json, the steps around
`chalice deploy` (one module each), the CloudFormation template and the Lambda zip."""
