"""OFD layout documents (GB/T 33190) sealed with GB/T 38540 electronic signatures."""

from signing.errors import OfdSigningError
from signing.ofd.sign import OfdSealSigner, StampPlacement, sign_ofd
from signing.ofd.verify import OfdReport, OfdSignatureReport, verify_ofd

__all__ = ["OfdReport", "OfdSealSigner", "OfdSignatureReport", "OfdSigningError", "StampPlacement", "sign_ofd",
           "verify_ofd"]
