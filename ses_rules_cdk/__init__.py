"""ses-rules as an AWS CDK construct (`pip install 'ses-rules[cdk]'`).

Independent of the engine: it deploys the zip `make package` builds and imports
nothing of `engine`, so a CDK app needs only this package and aws-cdk-lib.
"""
from .construct import SesRules
from .options import DIST_ZIP, SesRulesOptions

__all__ = ["DIST_ZIP", "SesRules", "SesRulesOptions"]
