"""Named exceptions, converted to user messages once at each edge (CLI, Slack)."""


class BillingBotError(Exception):
    "Base class for the bot's own errors"


class KnowledgeError(BillingBotError):
    "The YAML in knowledge/ is missing or does not validate"


class UnknownRule(BillingBotError):
    "A unit rule or payer profile name that knowledge/rules.yaml does not define"
