"""Event numbers for requests that do not follow the call's main line.

The main line (answer, prompts, transfers) numbers its events from the call state it
carries: 1, 2, 3... Queue waits, the Enqueue result and status callbacks run beside it, on
URLs minted earlier, so they take numbers from their own ranges. Every number is still
deterministic, so a retried request writes nothing twice, and the ranges keep a call's
events in the order they happen.
"""

WAIT = 100_000  # + 10 * announcement number + index
QUEUE_RESULT = 200_000
CALLBACK_NUMBER = 250_000  # a flow callback booked for a number the caller keyed in
TRANSFER_ANSWERED = 310_000  # + the call's event count when it was transferred
STATUS = 1_000_000  # + Twilio's SequenceNumber


def wait_seq(announcement: int, index: int) -> int:
    return WAIT + 10 * min(announcement, 9_999) + index
