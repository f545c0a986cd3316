"""billing-bot: answers massage therapists' insurance-billing questions (units and codes)."""

__version__ = "0.1.0"
