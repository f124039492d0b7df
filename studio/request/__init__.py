"""A request's road from the form (UI, CLI, API, batch) to the GPU worker, one module per step.

``checks`` refuses what no backend could render and builds the job (formatted lyrics, seeds, the
decoded source); ``pricing`` asks the budget guard what it costs; ``prepare`` does both once and hands
back the one value every surface carries to the GPU: ``prepared.Prepared``. ``outputs`` names the
files, ``cancel`` stops a running job, ``task_info`` describes the tasks for the UI.
"""
