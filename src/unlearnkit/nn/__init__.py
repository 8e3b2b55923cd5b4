"""Neural building blocks of SURE: gradient reversal, λ schedules, domain discriminator."""

from unlearnkit.nn.discriminator import DomainDiscriminator
from unlearnkit.nn.grl import GradientReversal, reverse_gradient
from unlearnkit.nn.schedules import dann_lambda, lambda_at

__all__ = [
    "DomainDiscriminator",
    "GradientReversal",
    "dann_lambda",
    "lambda_at",
    "reverse_gradient",
]
