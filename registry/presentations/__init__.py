"""亮证: holders' one-time presentation codes, their redemption at a counter,
and the public check of any certhub QR code."""
