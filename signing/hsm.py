"""Signing keys kept in a PKCS#11 token (an HSM, or SoftHSM2 in tests and small deployments).

# SPEC: PKCS #11 Cryptographic Token Interface Base Specification v2.40 / v3.0
# (C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN and CKM_EC_EDWARDS_KEY_PAIR_GEN,
# C_Sign with CKM_ECDSA and CKM_EDDSA).

Keys are generated inside the token as private, sensitive, non-extractable
objects and every signature is made there: no private key of a token ever
exists in this process. A key is found again by its CKA_ID (16 random bytes,
kept hex in the key's database row); its public half is read from the token
and compared with the row's before the key is used, so a row pointing at the
wrong object fails closed.

Algorithms: ES256 (CKM_ECDSA over a SHA-256 digest made here, since SoftHSM2
2.6 has no CKM_ECDSA_SHA256; the token returns raw r||s, the form
ES256PrivateKey.sign returns) and EdDSA (CKM_EDDSA, Ed25519, 64 bytes). SM2
has no mechanism in PKCS#11 v2.40/v3.0 and none in SoftHSM2: `generate`
refuses it with `AlgorithmNotInToken`, and the key store keeps SM2 keys in
the software envelope.

The PIN is held only by the `TokenConfig` and the library's login; it never
appears in a repr, a log line or an exception.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core as asn1_core
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.eddsa import Ed25519PublicKey
from signing.errors import KeyNotFound, SigningError
from signing.es256 import ES256PublicKey

# The MAC keys of the tokens certhub issues itself (HS256): department access
# tokens and holder sessions (identity.tokens, identity.holder_auth). Found by
# label; made once, by `certhub signing init`, so that processes starting
# together never make two.
ACCESS_TOKENS_MAC = "certhub access tokens v1"
HOLDER_SESSIONS_MAC = "certhub holder sessions v1"
STAFF_SESSIONS_MAC = "certhub staff sessions v1"
MAC_KEY_LABELS = (ACCESS_TOKENS_MAC, HOLDER_SESSIONS_MAC, STAFF_SESSIONS_MAC)
_MAC_KEY_BITS = 256  # SPEC: RFC 7518 §3.2 — an HS256 key is at least 256 bits
_OBJECT_ID_SIZE = 16
_P256_OID = "1.2.840.10045.3.1.7"  # SPEC: RFC 5480 §2.1.1.1 (secp256r1)
_ED25519_OID = "1.3.101.112"  # SPEC: RFC 8410 §3 (id-Ed25519), the CKA_EC_PARAMS PKCS#11 v3.0 names
_LABEL_PREFIX = "certhub "
_MAX_LABEL = 64
_MAX_PIN = 256


class TokenError(SigningError):
    """The token could not be opened, logged into, or did not do what was asked."""

    code = "key_token_error"


class AlgorithmNotInToken(TokenError):
    """The token has no mechanism for this algorithm (SM2 in every PKCS#11 token today)."""

    code = "algorithm_not_in_token"


@dataclass(frozen=True)
class TokenConfig:
    """Where the token is: the PKCS#11 module (a shared library), the token's label, its user PIN."""

    module_path: str
    token_label: str
    pin: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.module_path or not os.path.isabs(self.module_path):
            raise TokenError("the PKCS#11 module must be an absolute path to a shared library")
        if not 0 < len(self.token_label) <= 32:  # SPEC: PKCS #11 CK_TOKEN_INFO.label is 32 bytes
            raise TokenError("the token label must be 1 to 32 characters")
        if not 0 < len(self.pin) <= _MAX_PIN:
            raise TokenError("the token PIN must be set (1 to 256 characters)")


def object_id_text(object_id: bytes) -> str:
    return object_id.hex()


def parse_object_id(text: str) -> bytes:
    try:
        object_id = bytes.fromhex(text)
    except ValueError:
        raise KeyNotFound("a token key reference must be hex") from None
    if len(object_id) != _OBJECT_ID_SIZE:
        raise KeyNotFound("a token key reference is 16 bytes")
    return object_id


class KeySecret(bytes):
    """The deployment's key-encryption secret, carrying the PKCS#11 token when one is configured.

    Still the secret's bytes (it opens envelopes and derives the other keys
    made from it), so every service that receives the secret today reaches the
    token through the same argument, and the composition root alone decides
    which driver the key stores use.
    """

    token: Pkcs11Token | None

    def __new__(cls, secret: bytes, *, token: Pkcs11Token | None = None) -> KeySecret:
        value = super().__new__(cls, secret)
        value.token = token
        return value

    def __repr__(self) -> str:  # never the secret
        return f"<KeySecret token={self.token!r}>"


def token_of(secret: bytes | str) -> Pkcs11Token | None:
    """The token a secret carries; None for a plain secret (software envelopes)."""
    return secret.token if isinstance(secret, KeySecret) else None


_shared_tokens: dict[TokenConfig, Pkcs11Token] = {}
_shared_lock = threading.Lock()


def shared_token(config: TokenConfig) -> Pkcs11Token:
    """One `Pkcs11Token` per configuration in a process: one login, one session, one key cache."""
    with _shared_lock:
        token = _shared_tokens.get(config)
        if token is None:
            token = _shared_tokens[config] = Pkcs11Token(config)
        return token


class Pkcs11Token:
    """One logged-in session on a token, shared by the process.

    PKCS#11 runs one operation at a time per session, so signatures are
    serialised by a lock; the library is loaded and the session opened on
    first use, so that configuring a token costs nothing to commands that
    never sign.
    """

    def __init__(self, config: TokenConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._session: Any = None
        self._keys: dict[bytes, TokenPrivateKey] = {}

    def __repr__(self) -> str:
        return f"<Pkcs11Token {self.config.token_label!r} via {self.config.module_path}>"

    def _open(self) -> Any:
        if self._session is not None:
            return self._session
        import pkcs11  # loaded only when a token is used: `certhub verify` never needs it
        from pkcs11 import exceptions as pkcs11_errors

        try:
            library = pkcs11.lib(self.config.module_path)
            token = library.get_token(token_label=self.config.token_label)
            self._session = token.open(rw=True, user_pin=self.config.pin)
        except (pkcs11_errors.PKCS11Error, RuntimeError, OSError) as error:
            # The PIN is not part of what the library raises; the type says why (PinIncorrect, NoSuchToken…).
            raise TokenError(
                f"could not open PKCS#11 token {self.config.token_label!r}: {type(error).__name__}"
            ) from None
        return self._session

    def ensure_open(self) -> None:
        """Load the module and log in now, so a wrong PIN or label stops start-up rather than the first signature."""
        with self._lock:
            self._open()

    def mechanisms(self) -> set[int]:
        with self._lock:
            return {int(m) for m in self._open().token.slot.get_mechanisms()}

    def generate(self, algorithm: Algorithm, *, purpose: str) -> TokenPrivateKey:
        """A new key pair made inside the token: private, sensitive, never extractable."""
        from pkcs11 import Attribute, KeyType, Mechanism
        from pkcs11 import exceptions as pkcs11_errors
        from pkcs11.util.ec import encode_named_curve_parameters

        if algorithm == Algorithm.ES256:
            key_type, curve, mechanism = KeyType.EC, _P256_OID, Mechanism.EC_KEY_PAIR_GEN
        elif algorithm == Algorithm.EDDSA:
            key_type, curve, mechanism = KeyType.EC_EDWARDS, _ED25519_OID, Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        else:
            raise AlgorithmNotInToken(f"{algorithm} keys cannot be made in a PKCS#11 token (no mechanism); kept in software")
        object_id = os.urandom(_OBJECT_ID_SIZE)
        label = (_LABEL_PREFIX + purpose)[:_MAX_LABEL]
        private_template = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
        }
        with self._lock:
            session = self._open()
            try:
                parameters = session.create_domain_parameters(
                    key_type, {Attribute.EC_PARAMS: encode_named_curve_parameters(curve)}, local=True
                )
                parameters.generate_keypair(
                    store=True, id=object_id, label=label, mechanism=mechanism,
                    public_template={Attribute.VERIFY: True}, private_template=private_template,
                )
            except pkcs11_errors.PKCS11Error as error:
                raise TokenError(f"the token refused to generate a {algorithm} key: {type(error).__name__}") from None
            return self.key(object_id, algorithm=algorithm)

    def key(self, object_id: bytes, *, algorithm: Algorithm, expected: PublicKey | None = None) -> TokenPrivateKey:
        """The token's key with this CKA_ID; when `expected` is given, its public half must be that key."""
        with self._lock:
            key = self._keys.get(object_id)
            if key is None:
                key = self._load(object_id, algorithm)
                self._keys[object_id] = key
        if key.algorithm != algorithm or (expected is not None and key.public_key != expected):
            raise KeyNotFound("the token's key under this reference is not the key on record")
        return key

    def _load(self, object_id: bytes, algorithm: Algorithm) -> TokenPrivateKey:
        from pkcs11 import ObjectClass
        from pkcs11 import exceptions as pkcs11_errors

        session = self._open()
        try:
            private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=object_id)
            public = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=object_id)
        except (pkcs11_errors.NoSuchKey, pkcs11_errors.MultipleObjectsReturned):
            raise KeyNotFound("no single key pair in the token under this reference") from None
        return TokenPrivateKey(token=self, handle=private, public_key=_public_key(public, algorithm), object_id=object_id)

    def sign(self, handle: Any, data: bytes, algorithm: Algorithm) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11 import exceptions as pkcs11_errors

        if algorithm == Algorithm.ES256:
            # SPEC: PKCS #11 v2.40 §2.3.6 — CKM_ECDSA signs a digest given to it;
            # the signature is r||s, each the size of the order (32 bytes).
            payload, mechanism = hashlib.sha256(data).digest(), Mechanism.ECDSA
        else:
            payload, mechanism = data, Mechanism.EDDSA  # SPEC: PKCS #11 v3.0 §2.3.14, pure Ed25519
        with self._lock:
            try:
                return bytes(handle.sign(payload, mechanism=mechanism))
            except pkcs11_errors.PKCS11Error as error:
                raise TokenError(f"the token refused to sign: {type(error).__name__}") from None

    def mac_key(self, label: str) -> TokenMac:
        """The HMAC-SHA256 key with this label; refused when `certhub signing init` has not made it."""
        from pkcs11 import Attribute, ObjectClass

        with self._lock:
            found = list(self._open().get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label}))
        if len(found) != 1:
            raise TokenError(f"the token has {len(found)} MAC keys labelled {label!r}, not one: run `certhub signing init`")
        return TokenMac(token=self, handle=found[0], label=label)

    def ensure_mac_keys(self) -> list[str]:
        """Make the MAC keys of MAC_KEY_LABELS that are missing (sensitive, never extractable); returns those made."""
        from pkcs11 import Attribute, KeyType, ObjectClass
        from pkcs11 import exceptions as pkcs11_errors

        made = []
        with self._lock:
            session = self._open()
            for label in MAC_KEY_LABELS:
                if list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label})):
                    continue
                try:
                    session.generate_key(
                        KeyType.GENERIC_SECRET, _MAC_KEY_BITS, label=label, id=os.urandom(_OBJECT_ID_SIZE), store=True,
                        template={Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.SIGN: True, Attribute.VERIFY: True},
                    )
                except pkcs11_errors.PKCS11Error as error:
                    raise TokenError(f"the token refused to generate a MAC key: {type(error).__name__}") from None
                made.append(label)
        return made

    def mac(self, handle: Any, data: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11 import exceptions as pkcs11_errors

        with self._lock:
            try:
                return bytes(handle.sign(data, mechanism=Mechanism.SHA256_HMAC))  # SPEC: PKCS #11 v2.40 §2.20.4
            except pkcs11_errors.PKCS11Error as error:
                raise TokenError(f"the token refused to compute a MAC: {type(error).__name__}") from None

    def protection(self, object_id: bytes) -> dict[str, bool]:
        """How the token guards a private key (CKA_SENSITIVE, CKA_EXTRACTABLE, …): for operators and tests."""
        from pkcs11 import Attribute, ObjectClass

        with self._lock:
            private = self._open().get_key(object_class=ObjectClass.PRIVATE_KEY, id=object_id)
            return {
                "sensitive": bool(private[Attribute.SENSITIVE]),
                "extractable": bool(private[Attribute.EXTRACTABLE]),
                "always_sensitive": bool(private[Attribute.ALWAYS_SENSITIVE]),
                "never_extractable": bool(private[Attribute.NEVER_EXTRACTABLE]),
            }

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            self._keys.clear()


def _public_key(public: Any, algorithm: Algorithm) -> PublicKey:
    """The public half as the token holds it, in the project's PublicKey classes."""
    from pkcs11 import Attribute

    # SPEC: PKCS #11 v2.40 §2.3.3 / v3.0 §2.3.10 — CKA_EC_POINT is the DER OCTET STRING of the point.
    # Some tokens give Ed25519's 32 bytes bare; both forms are read.
    encoded = bytes(public[Attribute.EC_POINT])
    point = encoded if algorithm == Algorithm.EDDSA and len(encoded) == 32 else asn1_core.OctetString.load(encoded).native
    if algorithm == Algorithm.ES256:
        return ES256PublicKey(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point))
    return Ed25519PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(point))


class TokenMac:
    """An HMAC-SHA256 key in the token (identity.hs256.MessageAuthenticator): `mac` asks the token."""

    def __init__(self, *, token: Pkcs11Token, handle: Any, label: str) -> None:
        self._token = token
        self._handle = handle
        self.label = label

    def mac(self, data: bytes) -> bytes:
        return self._token.mac(self._handle, data)

    def protection(self) -> dict[str, bool]:
        from pkcs11 import Attribute

        with self._token._lock:
            return {"sensitive": bool(self._handle[Attribute.SENSITIVE]),
                    "extractable": bool(self._handle[Attribute.EXTRACTABLE])}

    def __repr__(self) -> str:
        return f"<TokenMac {self.label!r}>"


class TokenPrivateKey(PrivateKey):
    """A private key that lives in the token: `sign` asks the token, `secret_bytes` refuses."""

    def __init__(self, *, token: Pkcs11Token, handle: Any, public_key: PublicKey, object_id: bytes) -> None:
        self.algorithm = public_key.algorithm
        self._token = token
        self._handle = handle
        self._public = public_key
        self.object_id = object_id

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._token.sign(self._handle, data, self.algorithm)

    def secret_bytes(self) -> bytes:
        raise TokenError(f"key {self.kid} is kept in a token and is never exported")
