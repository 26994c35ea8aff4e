"""Shared values for the authenticator tests."""

# Published in Google's Key Uri Format examples; 80 bits, as many services still issue.
EXAMPLE_SECRET = "JBSWY3DPEHPK3PXP"
EXAMPLE_URI = f"otpauth://totp/Contoso:adele%40contoso.example?secret={EXAMPLE_SECRET}&issuer=Contoso"
