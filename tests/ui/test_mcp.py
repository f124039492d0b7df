"""The studio launches with Gradio's MCP server on, and its tools are exactly the named API endpoints.

Gradio serves the tool list at ``/gradio_api/mcp/schema`` (gradio/mcp.py: GradioMCPServer mounts
"/schema", built from ``api_info["named_endpoints"]``; a tool's description is its function's
docstring and each parameter's comes from the docstring's ``Args:`` section).
"""

from __future__ import annotations

import httpx

# The named endpoints agents may call, and the tool each becomes (the function's name).
API_TOOLS = {
    "generate": "generate", "edit": "edit", "format_lyrics": "format_lyrics", "plan": "plan",
    "tasks": "tasks", "backends": "backends", "library": "library_list",
}


def test_mcp_tools_match_the_named_api_endpoints_and_are_described(studio_app) -> None:
    with studio_app() as url:
        schema = httpx.get(f"{url.rstrip('/')}/gradio_api/mcp/schema", timeout=60).json()
        api = httpx.get(f"{url.rstrip('/')}/gradio_api/info", timeout=60).json()
    tools = {tool["name"]: tool for tool in schema}
    named = {name.lstrip("/") for name in api["named_endpoints"]}
    assert set(API_TOOLS) <= named
    assert set(tools) == {API_TOOLS.get(name, name) for name in named}  # one tool per named endpoint
    assert set(API_TOOLS.values()) <= set(tools)
    for name in API_TOOLS.values():
        tool = tools[name]
        assert len(tool["description"]) > 60, name
        properties = tool["inputSchema"]["properties"]
        undocumented = [p for p, spec in properties.items() if not spec.get("description")]
        assert not undocumented, f"{name}: {undocumented}"
    assert "lyrics" in tools["generate"]["inputSchema"]["properties"]
    # Best of N reaches agents as it reaches API callers (issue 21.3).
    assert "Best of N" in tools["generate"]["inputSchema"]["properties"]["keep_best"]["description"]
