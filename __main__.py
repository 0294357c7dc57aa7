"""meshperf on Kubernetes: read and check the stack, build the suite, export the figures.

`pulumi up -s kind-local`, then `pulumi stack output throughput`.
"""

import pulumi

from components.program import run

outputs = run(pulumi.get_stack())
for key, value in outputs.items():
    pulumi.export(key, value)
