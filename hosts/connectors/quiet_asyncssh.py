"""asyncssh, imported without the warnings cryptography prints about it.

asyncssh names cryptography's DSA types at import, and cryptography >= 51 warns once per name:
ten lines on stderr before every `meshperf hosts` line. meshperf never offers or accepts DSA
keys, so that warning (and only that category, only during this import) is silenced here; every
module of the project imports asyncssh from here.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    import asyncssh

__all__ = ["asyncssh"]
