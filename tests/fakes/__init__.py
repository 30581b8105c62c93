"""Loopback stand-ins for endpoints that cannot run here (SDS) or must misbehave on cue (fault injection).

The real llama.cpp server with the real SmolLM2 model is used wherever a model is needed; these fakes only
replace remote services. Import as `from fakes import FaultServer, Fault, FakeSDS` (pytest puts `tests/`
on sys.path via its conftest; scripts outside pytest add it themselves).
"""

from .openai_server import Fault, FaultServer, damage_columns, schema_instance
from .sds_server import FakeSDS

__all__ = ["FakeSDS", "Fault", "FaultServer", "damage_columns", "schema_instance"]
