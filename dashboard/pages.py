"""The dashboard's HTML: two pages with inline CSS and a small inline script (EventSource, fetch).

Nothing is loaded from elsewhere, so the dashboard works offline; every text from the cluster is escaped.
"""

from __future__ import annotations

import html
import json

from dashboard.history import Run
from dashboard.report import STYLE, run_sections

DASHBOARD_STYLE = (
    STYLE
    + """
.bar{display:inline-block;width:8em;height:.8em;background:#eee;vertical-align:middle}
.bar span{display:block;height:100%;background:#2b7bba}
button{margin-right:.5em}#error{color:#d62728}
"""
)

_ROW_SCRIPT = """
function row(s){
  const tr=document.createElement('tr');tr.id='row-'+s.key;tr.dataset.phase=s.phase;
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


def canary_page(namespace: str, name: str, *, allow_actions: bool, token: str) -> str:
    key = f"{namespace}/{name}"
    actions = (
        '<h2>Actions</h2><p id="actions">'
        + "".join(
            f'<button data-action="{a}" id="action-{a}">{a}</button>' for a in ("promote", "abort", "retry")
        )
        + '</p><p id="action-result"></p>'
        if allow_actions
        else "<p><small>Read-only: start <code>flagman dashboard --allow-actions</code> for promote, abort and retry."
        "</small></p>"
    )
    body = (
        f'<p><a href="/">all canaries</a></p><h1>{html.escape(key)}</h1><p id="error"></p>'
        '<table id="canaries"><thead><tr><th>canary</th><th>phase</th><th>iteration</th><th>failed checks</th>'
        "<th>last change</th><th>progress</th></tr></thead><tbody></tbody></table>"
        '<p id="message"></p><p id="request"></p>'
        f"{actions}"
        f'<p><a href="/canary/{html.escape(namespace)}/{html.escape(name)}/report">full report of the latest run</a></p>'
        '<div id="analysis">loading the analysis ...</div>'
    )
    script = (
        _ROW_SCRIPT
        + f"""
const KEY={json.dumps(key)};const TOKEN={json.dumps(token)};
const BASE='/canary/'+{json.dumps(namespace)}+'/'+{json.dumps(name)};
const tbody=document.querySelector('#canaries tbody');let last='';
async function analysis(){{const r=await fetch(BASE+'/analysis');document.getElementById('analysis').innerHTML=await r.text();}}
function put(s){{if(s.key!==KEY)return;const old=document.getElementById('row-'+s.key);const tr=row(s);
  if(old)old.replaceWith(tr);else tbody.appendChild(tr);
  document.getElementById('message').textContent=s.message;
  document.getElementById('request').textContent=s.request?'last request: '+s.request:'';
  const state=s.phase+'/'+s.iterations+'/'+s.failedChecks;if(state!==last){{last=state;analysis();}}}}
const events=new EventSource('/events');
events.addEventListener('canary',e=>put(JSON.parse(e.data)));
events.addEventListener('error',e=>{{if(e.data)document.getElementById('error').textContent=JSON.parse(e.data).message;}});
for(const b of document.querySelectorAll('button[data-action]')){{
  b.addEventListener('click',async()=>{{
    const r=await fetch(BASE+'/actions/'+b.dataset.action,{{method:'POST',headers:{{'X-Flagman-Token':TOKEN}}}});
    const answer=await r.json();document.getElementById('action-result').textContent=answer.message;}});}}
analysis();
"""
    )
    return _page(f"Flagman {key}", body, script)


def analysis_fragment(run: Run | None, problem: str = "") -> str:
    if run is None:
        return f"<p>{html.escape(problem or 'No analysis run recorded yet.')}</p>"
    return "\n".join(run_sections(run))
