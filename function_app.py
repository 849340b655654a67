"""The Functions entry point: builds the Durable app and registers the blueprints. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities import accept, analyze, events, hangup, monitor, refer, reject, say, screen, store
from blueprints import callers, console, ingress, operator, orchestration, records, slots

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    ingress.bp,
    operator.bp,
    records.bp,
    console.bp,
    callers.bp,
    orchestration.bp,
    slots.bp,
    screen.bp,
    accept.bp,
    reject.bp,
    monitor.bp,
    refer.bp,
    hangup.bp,
    store.bp,
    events.bp,
    analyze.bp,
    say.bp,
):
    app.register_functions(blueprint)
