"""ACE-Step 1.5 (the studio's default model), run through diffusers' AceStepPipeline."""
