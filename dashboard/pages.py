"""The dashboard's HTML: two pages with inline CSS and a small inline script (EventSource, fetch).

Nothing is loaded from elsewhere, so the dashboard works offline; every text from the cluster is escaped.
"""

from __future__ import annotations

import html
import json

from dashboard.history import History, Run
from dashboard.report import STYLE, run_sections

DASHBOARD_STYLE = (
    STYLE
    + """
.bar{display:inline-block;width:8em;height:.8em;background:#eee;vertical-align:middle}
.bar span{display:block;height:100%;background:#2b7bba}
button{margin-right:.5em}#error{color:#d62728}
tr.paused td.phase::after{content:" (paused)";color:#ff7f0e}#paused{color:#ff7f0e}
"""
)

_ROW_SCRIPT = """
function row(s){
  const tr=document.createElement('tr');tr.id='row-'+s.key;tr.dataset.phase=s.phase;
  if(s.paused!==null)tr.classList.add('paused');
  const cells=[['name',s.namespace+'/'+s.name],['phase',s.phase],['iteration',s.iterations+'/'+s.totalIterations],
    ['failed',s.failedChecks+'/'+s.threshold],['changed',s.lastTransitionTime]];
  for(const [cls,text] of cells){const td=document.createElement('td');td.className=cls;
    if(cls==='name'){const a=document.createElement('a');a.href='/canary/'+s.namespace+'/'+s.name;a.textContent=text;td.appendChild(a);}
    else td.textContent=text;
    if(cls==='phase')td.classList.add(s.phase);tr.appendChild(td);}
  const td=document.createElement('td');td.className='progress';
  td.innerHTML='<span class="bar"><span></span></span> <span class="pct"></span>';
  td.querySelector('.bar span').style.width=s.progress+'%';td.querySelector('.pct').textContent=s.progress+'%';
  tr.appendChild(td);return tr;}
"""


def _page(title: str, body: str, script: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{DASHBOARD_STYLE}</style></head><body>"
        f"{body}<script>{script}</script></body></html>\n"
    )


def index_page(scope: str) -> str:
    body = (
        f'<h1>Canaries <small>({html.escape(scope)})</small></h1><p id="error"></p>'
        '<table id="canaries"><thead><tr><th>canary</th><th>phase</th><th>iteration</th>'
        "<th>failed checks</th><th>last change</th><th>progress</th></tr></thead><tbody></tbody></table>"
        '<p id="empty">No Canary yet.</p>'
    )
    script = (
        _ROW_SCRIPT
        + """
const tbody=document.querySelector('#canaries tbody');
function put(s){const old=document.getElementById('row-'+s.key);const tr=row(s);
  if(old)old.replaceWith(tr);else{tbody.appendChild(tr);}
  document.getElementById('empty').hidden=tbody.children.length>0;}
const events=new EventSource('/events');
events.addEventListener('canary',e=>put(JSON.parse(e.data)));
events.addEventListener('deleted',e=>{const o=document.getElementById('row-'+JSON.parse(e.data).key);if(o)o.remove();
  document.getElementById('empty').hidden=tbody.children.length>0;});
events.addEventListener('error',e=>{if(e.data)document.getElementById('error').textContent=JSON.parse(e.data).message;});
"""
    )
    return _page("Flagman canaries", body, script)


ACTIONS = ("promote", "abort", "retry", "pause", "resume")


def canary_page(namespace: str, name: str, *, allow_actions: bool, token: str) -> str:
    key = f"{namespace}/{name}"
    actions = (
        '<h2>Actions</h2><p id="actions">'
        + "".join(f'<button data-action="{a}" id="action-{a}">{a}</button>' for a in ACTIONS)
        + '</p><p id="action-result"></p>'
        if allow_actions
        else "<p><small>Read-only: start <code>flagman dashboard --allow-actions</code> for promote, abort,"
        " retry, pause and resume.</small></p>"
    )
    body = (
        f'<p><a href="/">all canaries</a></p><h1>{html.escape(key)}</h1><p id="error"></p>'
        '<table id="canaries"><thead><tr><th>canary</th><th>phase</th><th>iteration</th><th>failed checks</th>'
        "<th>last change</th><th>progress</th></tr></thead><tbody></tbody></table>"
        '<p id="paused"></p><p id="message"></p><p id="request"></p>'
        f"{actions}"
        '<div id="analysis">loading the analysis ...</div>'
    )
    script = (
        _ROW_SCRIPT
        + f"""
const KEY={json.dumps(key)};const TOKEN={json.dumps(token)};
const BASE='/canary/'+{json.dumps(namespace)}+'/'+{json.dumps(name)};
const tbody=document.querySelector('#canaries tbody');let last='';let chosen='';
async function analysis(){{const r=await fetch(BASE+'/analysis'+(chosen?'?run='+chosen:''));
  document.getElementById('analysis').innerHTML=await r.text();}}
function put(s){{if(s.key!==KEY)return;const old=document.getElementById('row-'+s.key);const tr=row(s);
  if(old)old.replaceWith(tr);else tbody.appendChild(tr);
  document.getElementById('message').textContent=s.message;
  document.getElementById('request').textContent=s.request?'last request: '+s.request:'';
  document.getElementById('paused').textContent=s.paused===null?'':
    'Paused by '+(s.paused||'an unknown user')+': nothing is reconciled until resume.';
  const pause=document.getElementById('action-pause'),resume=document.getElementById('action-resume');
  if(pause){{pause.hidden=s.paused!==null;resume.hidden=s.paused===null;}}
  const state=s.phase+'/'+s.iterations+'/'+s.failedChecks;
  if(state!==last){{last=state;if(!chosen)analysis();}}}}
const events=new EventSource('/events');
events.addEventListener('canary',e=>put(JSON.parse(e.data)));
events.addEventListener('error',e=>{{if(e.data)document.getElementById('error').textContent=JSON.parse(e.data).message;}});
document.getElementById('analysis').addEventListener('change',e=>{{
  if(e.target.id==='run-picker'){{chosen=e.target.value;analysis();}}}});
for(const b of document.querySelectorAll('button[data-action]')){{
  b.addEventListener('click',async()=>{{
    const r=await fetch(BASE+'/actions/'+b.dataset.action,{{method:'POST',headers:{{'X-Flagman-Token':TOKEN}}}});
    const answer=await r.json();document.getElementById('action-result').textContent=answer.message;}});}}
analysis();
"""
    )
    return _page(f"Flagman {key}", body, script)


def run_picker(history: History, run: Run, *, follow: bool, base: str) -> str:
    """Choose among the kept runs (``latest`` follows new runs as they start), with the report links."""
    latest = history.runs[-1]
    options = [
        f'<option value=""{" selected" if follow else ""}>latest (run {latest.number}, '
        f"{html.escape(latest.status)})</option>"
    ]
    for item in reversed(history.runs):
        selected = " selected" if not follow and item.number == run.number else ""
        options.append(
            f'<option value="{item.number}"{selected}>run {item.number}: {html.escape(item.status)}, '
            f"started {html.escape(item.started)}</option>"
        )
    report = f"{html.escape(base)}/report?run={run.number}"
    return (
        f'<p><label>run <select id="run-picker">{"".join(options)}</select></label> '
        f'({len(history.runs)} kept) · report of run {run.number}: <a id="report-html" href="{report}">HTML</a>'
        f' · <a id="report-png" href="{report}&amp;format=png">PNG</a>'
        f' · <a id="report-svg" href="{report}&amp;format=svg">SVG</a></p>'
    )


def analysis_fragment(
    history: History | None, run: Run | None, problem: str = "", *, follow: bool = True, base: str = ""
) -> str:
    if history is None or run is None:
        return f"<p>{html.escape(problem or 'No analysis run recorded yet.')}</p>"
    return "\n".join([run_picker(history, run, follow=follow, base=base), *run_sections(run)])
