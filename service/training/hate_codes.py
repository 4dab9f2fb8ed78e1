"""Nazi glorification, Holocaust denial and white-supremacist codes, with their clean twins: a training source and its
held-out check.

moderato-v10 read none of these as toxic: "Hitler was right." 0.03, "The holocaust was a hoax." 0.09, "1488" 0.25,
"heil hitler" 0.62 (all allowed by the built-in policy), and "hitler was right, gas the jews" 0.49. Its training data
holds few of them, and the ones it holds read as talk about history, which most comments naming Hitler are. The
twins are that talk (history, remembrance, comparisons argued over) so the head learns the stance toward the
atrocity, not the names. Training and evaluation sentences are written apart (no shared sentence or frame), as
``threats.py``'s are.
"""

from __future__ import annotations

TRAIN_HATEFUL = (
    "Hitler was right about everything.",
    "Hitler did nothing wrong.",
    "Hitler should have finished the job.",
    "We need another Hitler to clean this country up.",
    "Heil Hitler, brothers.",
    "Sieg heil to all my white brothers.",
    "The Nazis had the right idea.",
    "Bring back the Third Reich.",
    "The holocaust never happened, it's a jewish lie.",
    "Six million? That number was made up.",
    "The gas chambers are a myth.",
    "1488, white brothers, stay strong.",
    "14/88 forever.",
    "Remember the 14 words, white man.",
    "RAHOWA is coming.",
    "The SS were heroes.",
    "Too bad the Nazis lost.",
    "Auschwitz wasn't big enough.",
    "White power! Heil!",
    "Time to fire up the ovens again.",
)
TRAIN_TWINS = (
    "Hitler was defeated in 1945.",
    "Hitler was responsible for the deaths of millions.",
    "My grandfather fought against Hitler's army.",
    "The Nazis murdered six million jews.",
    "The holocaust is the best documented genocide in history.",
    "We visited Auschwitz on the school trip and it was harrowing.",
    "Holocaust deniers should read the survivors' testimony.",
    "The Third Reich collapsed after the invasion.",
    "The film about the SS officers' trial is worth watching.",
    "Never forget the six million.",
    "The museum has a new exhibit on the gas chambers.",
    "Comparing the mayor to Hitler is lazy and wrong.",
    "My great-grandmother survived the camps.",
    "The council banned Nazi symbols at the stadium.",
    "Calling everyone you disagree with a Nazi cheapens the word.",
    "Historians agree the holocaust was planned at Wannsee.",
    "The bus routes 14 and 88 both run late on Sundays.",
    "The power went out on White Street again.",
    "The author's grandfather hid a jewish family from the SS.",
    "Nazi propaganda worked because people stayed silent.",
)
EVAL_HATEFUL = (
    "Heil Hitler",
    "Sieg heil!",
    "1488",
    "Hitler was a great man.",
    "The Nazis were right.",
    "The holocaust was a hoax.",
    "Gas them all, like the good old days.",
    "Hitler should have won the war.",
    "We need the camps again.",
    "Holocaust? Never happened.",
    "14 words. 88.",
    "The Fuhrer knew what to do with them.",
)
EVAL_TWINS = (
    "Hitler invaded Poland in 1939.",
    "The Nazis were evil.",
    "Holocaust survivors spoke at the school.",
    "My great-uncle died at Auschwitz.",
    "The war ended in 1945 with Hitler dead.",
    "Nazi Germany lost the war.",
    "The holocaust must be taught in schools.",
    "He compared the policy to the Nazis, which is absurd.",
    "The exhibit on the camps was moving.",
    "Six million jews were murdered.",
    "Flight 88 lands at 14:00.",
    "The Fuhrerbunker was in Berlin.",
)
