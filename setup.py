"""Maps the top-level `prompts/`, `rules/` and `evaluators/` folders into the `seedgen` package.

DESIGN.md keeps them at the top of the repository for users to find, but they must not claim generic
import names (`import rules`), so they install as `seedgen.prompts`, `seedgen.rules`, `seedgen.evaluators`
in both wheel and editable installs.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["seedgen", "seedgen.*"])
package_dir = {"seedgen": "seedgen"}
for top in ("prompts", "rules", "evaluators"):
    packages.append(f"seedgen.{top}")
    package_dir[f"seedgen.{top}"] = top
    packages += [f"seedgen.{top}.{sub}" for sub in find_packages(top)]

setup(packages=packages, package_dir=package_dir)
