"""Other APIs' shapes on Moderato's scorer: Perspective (``comments:analyze``, ``comments:suggestscore`` and its
discovery document), OpenAI's moderations, and Coral Talk's external moderation phase. Each translates a request
into the scorer's terms and the result back; none has a scoring path of its own."""
