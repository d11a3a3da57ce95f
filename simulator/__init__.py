"""A stand-in for Twilio's cloud and a contact-centre simulator built on it.

It talks to the IVR server only over HTTP, as Twilio does: nothing here imports the
server's packages, so it can drive `ivr serve` on another host as well as an app built
in-process.
"""

from simulator.legs import Leg
from simulator.people import Party, Prompt, Scripted, Turn
from simulator.server import free_port, serve
from simulator.standin import Answer, StandIn
from simulator.twiml_rules import TwimlError
from simulator.webhooks import WebhookError, Webhooks

__all__ = [
    "Answer",
    "Leg",
    "Party",
    "Prompt",
    "Scripted",
    "StandIn",
    "Turn",
    "TwimlError",
    "WebhookError",
    "Webhooks",
    "free_port",
    "serve",
]
