"""A stand-in for Twilio's cloud and a contact-centre simulator built on it.

It talks to the IVR server only over HTTP, as Twilio does: nothing here imports the
server's packages, so it drives `ivr serve` on another host as well as an app built
in-process. The public parts:

- `simulator.standin.StandIn`: places calls and runs the TwiML the server answers;
  `simulator.people` (`Party`, `Scripted`, `Turn`) are the people on its calls.
- `simulator.webhooks.Webhooks`: Twilio's signed, form-encoded requests.
- `simulator.twiml_rules.parse`: the TwiML Twilio accepts; `TwimlError` otherwise.
- `simulator.contact_centre` (`Scenario`, `Simulation`, `Tally`) and `simulator.run`
  (`in_process`, `against`): the contact-centre simulation.
"""
