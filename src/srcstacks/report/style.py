"""The page's style sheet, inlined into the HTML (no file, no fetch)."""

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1d2327; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccd; }
h3 { margin-top: 1.4em; } h4 { margin: 1em 0 .3em; font-weight: 600; }
.kind { font-size: .6em; font-weight: normal; background: #e8eef7; padding: .1em .5em;
        border-radius: .8em; vertical-align: middle; }
table { border-collapse: collapse; margin: .5em 0; width: 100%; }
th, td { border: 1px solid #d5d9e0; padding: .25em .5em; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
table.components td:nth-child(-n+3), table.tools td:first-child { white-space: nowrap; }
thead th { background: #f1f3f7; white-space: nowrap; overflow-wrap: normal; }
table.summary th, table.facts th { width: 18em; background: #f7f8fa; }
.detail { font-size: .85em; color: #4a5563; }
code, pre { font-family: ui-monospace, monospace; font-size: .92em; }
pre.patch { background: #f7f8fa; border: 1px solid #d5d9e0; padding: .6em;
            overflow-x: auto; white-space: pre; }
.verdict { font-weight: 600; padding: .4em .8em; display: inline-block; border-radius: 4px; }
.verdict.ok { background: #dff3e3; } .verdict.failed { background: #fbe0e0; }
.verdict.skipped { background: #f4efd6; }
ul.problems li { font-family: ui-monospace, monospace; font-size: .9em; }
.graph-box { overflow-x: auto; border: 1px solid #d5d9e0; }
svg.graph { font: 12px system-ui, sans-serif; }
svg.graph .band { fill: #f5f7fb; stroke: #e1e6ef; }
svg.graph .layer rect { fill: #3b5b92; } svg.graph .layer text { fill: #fff; font-weight: 600; }
svg.graph .package rect { fill: #fff; stroke: #6b7d99; }
svg.graph .package.upstream rect { fill: #fdf6e3; stroke-dasharray: 4 3; }
svg.graph .package.patched rect { stroke: #b5461f; stroke-width: 3; }
svg.graph .edge { fill: none; stroke: #6b7d99; stroke-width: 1.3; }
svg.graph .edge.stacking { stroke-dasharray: 5 4; stroke: #3b5b92; }
svg.graph marker path { fill: #6b7d99; }
@media print { .graph-box { overflow: visible; } pre.patch { white-space: pre-wrap; } }
"""
