#!/usr/bin/env bash
# The one whole-tree reformat by Prettier, for the lead to run once on main after merging the branches that
# edit src/ (a reformat on a branch would conflict with every one of them). It formats every file Prettier
# covers (.prettierrc, .prettierignore), checks that the reformat changed nothing ESLint reports (an
# `eslint-disable-next-line` comment that a line split moved away from its line shows up there), commits
# the result alone, and records that commit in .git-blame-ignore-revs so `git blame` looks through it
# (git config blame.ignoreRevsFile .git-blame-ignore-revs; GitHub reads the file by itself).
#
#   bash scripts/format-all.sh            from a clean work tree; after it, `npm run lint` passes its
#                                         prettier --check half, and new code keeps it (npm run format)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git diff --quiet || ! git diff --cached --quiet; then
  echo "format-all: the work tree has changes: commit or stash them first, so the reformat is a commit of its own" >&2
  exit 2
fi

# What ESLint reports, as "file rule" lines: the reformat must not change it.
findings() {
  npx eslint . -f json | node -e '
    let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
      const out = [];
      for (const f of JSON.parse(s)) for (const m of f.messages) out.push(`${f.filePath.slice(process.cwd().length + 1)} ${m.ruleId}`);
      console.log(out.sort().join("\n"));
    });' || true
}
before=$(findings)
npx prettier --write . >/dev/null
after=$(findings)
if [ "$before" != "$after" ]; then
  echo "format-all: the reformat changed what ESLint reports (left uncommitted; see git diff):" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
npm run typecheck >/dev/null

if git diff --quiet; then
  echo "format-all: nothing to reformat"
  exit 0
fi
git commit -qam "style: the whole tree formatted by Prettier (npm run format; .prettierrc)"
git rev-parse HEAD >> .git-blame-ignore-revs
git add .git-blame-ignore-revs
git commit -qm "git blame looks through the Prettier reformat (.git-blame-ignore-revs)"
echo "format-all: reformatted and committed $(git rev-parse --short HEAD~1); npm run lint's prettier --check now passes"
