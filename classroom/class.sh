#!/usr/bin/env bash
# A class of Event Loop IO on one machine: plain JupyterHub, configurable-http-proxy, PAM users.
# Run as root, from the teacher's checkout, after `make handout`. tests/test_classroom.py runs
# every sub-command below on a real hub (make test-classroom).
#
#   classroom/class.sh setup                   the shared environment, the exchange, the users,
#                                              private homes, the hand-out in every learner's home
#   classroom/class.sh release ps1 03-select   an nbgrader assignment from solutions/, released
#   classroom/class.sh collect [FOLDER]        each learner's FOLDER/*.ipynb (default
#                                              event-loop-io/exercises) into ~teacher/submissions/
#   classroom/class.sh grade                   python -m eventloop grade, as the teacher
#   classroom/class.sh autograde ps1           nbgrader collect, autograde, export, as the teacher
#   classroom/class.sh remove-users            userdel -r the learners and the teacher (careful)
#
# Settings, from the environment (setup writes them to $CLASS_PREFIX/class.conf, which the other
# sub-commands and jupyterhub_config.py read):
#   CLASS_PREFIX    /opt/event-loop-io   env/ (shared environment), exchange/, state/ (the hub's)
#   CLASS_TEACHER   teacher              the hub's admin; owns the course and the solutions
#   CLASS_LEARNERS  ""                   accounts to create (useradd) and add to CLASS_GROUP
#   CLASS_GROUP     event-loop-io        who may log in to the hub
#   CLASS_COURSE    event-loop-io        nbgrader's course_id
#   CLASS_NOFILE    4096                 descriptors per user server (chapter 09 needs ~1,100)
#   CLASS_PYTHON    /usr/bin/python3     a python every user can run (not one under /root)
#   CLASS_WHEEL     dist/eventloop_course-*.whl   from `make handout`
#   CLASS_HANDOUT   dist/handout                  from `make handout`
#   CLASS_SOLUTIONS solutions                     copied into the teacher's private home only
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
checkout="$(dirname "$here")"
CLASS_PREFIX="${CLASS_PREFIX:-/opt/event-loop-io}"

fail() { echo "class.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (it creates users, and reads and writes their homes)"
command -v runuser >/dev/null || fail "runuser not found (util-linux)"

load() {
    [ -f "$CLASS_PREFIX/class.conf" ] || fail "$CLASS_PREFIX/class.conf: run 'class.sh setup' first"
    # shellcheck disable=SC1091
    . "$CLASS_PREFIX/class.conf"
    ENV="${CLASS_ENV:-$CLASS_PREFIX/env}"  # TLJH: CLASS_ENV=/opt/tljh/user in class.conf
    TEACHER_HOME="$(getent passwd "$CLASS_TEACHER" | cut -d: -f6)"
}

home_of() { getent passwd "$1" | cut -d: -f6; }

members() {  # the learners: members of the class's group, the teacher left out
    getent group "$CLASS_GROUP" | cut -d: -f4 | tr ',' '\n' | grep -v -x -e "$CLASS_TEACHER" -e '' || true
}

as_user() {  # as_user NAME COMMAND...: with NAME's rights, in NAME's home, the class's PATH
    local user="$1" home
    shift
    home="$(home_of "$user")"
    (cd "$home" && runuser -u "$user" -- env HOME="$home" USER="$user" \
        PATH="$ENV/bin:/usr/local/bin:/usr/bin:/bin" "$@")
}

setup() {
    CLASS_TEACHER="${CLASS_TEACHER:-teacher}"
    CLASS_LEARNERS="${CLASS_LEARNERS:-}"
    CLASS_GROUP="${CLASS_GROUP:-event-loop-io}"
    CLASS_COURSE="${CLASS_COURSE:-event-loop-io}"
    CLASS_NOFILE="${CLASS_NOFILE:-4096}"
    CLASS_PYTHON="${CLASS_PYTHON:-/usr/bin/python3}"
    CLASS_HANDOUT="${CLASS_HANDOUT:-$checkout/dist/handout}"
    CLASS_SOLUTIONS="${CLASS_SOLUTIONS:-$checkout/solutions}"
    local wheel="${CLASS_WHEEL:-}"
    [ -n "$wheel" ] || wheel="$(ls "$checkout"/dist/eventloop_course-*.whl 2>/dev/null | tail -n 1)"
    [ -f "$wheel" ] || fail "no wheel: run 'make handout' first (or set CLASS_WHEEL)"
    [ -d "$CLASS_HANDOUT/exercises" ] || fail "$CLASS_HANDOUT: run 'make handout' first"
    [ -x "$CLASS_PYTHON" ] || fail "$CLASS_PYTHON: no such python (set CLASS_PYTHON)"

    install -d -m 0755 "$CLASS_PREFIX"
    install -d -m 0700 "$CLASS_PREFIX/state"
    # The exchange: every user may drop files in, nobody may remove another's (sticky bit).
    install -d -m 1777 "$CLASS_PREFIX/exchange"

    echo "== the shared environment: $CLASS_PREFIX/env, from $(basename "$wheel")"
    local uv="${UV:-$checkout/.venv/bin/uv}"
    if [ -x "$uv" ]; then
        "$uv" venv --quiet --allow-existing --python "$CLASS_PYTHON" "$CLASS_PREFIX/env"
        "$uv" pip install --quiet --python "$CLASS_PREFIX/env/bin/python" "$wheel[hub,teach]"
    else
        "$CLASS_PYTHON" -m venv "$CLASS_PREFIX/env"
        "$CLASS_PREFIX/env/bin/python" -m pip install --quiet "$wheel[hub,teach]"
    fi
    chmod -R a+rX "$CLASS_PREFIX/env"
    # nbgrader's menus, Formgrader and "Create Assignment" stay out of the learners' JupyterLab.
    "$CLASS_PREFIX/env/bin/python" "$checkout/tools/hide_nbgrader.py"
    # Everyone's nbgrader (fetch, submit; the teacher's release, collect) finds the course here.
    cat > "$CLASS_PREFIX/env/etc/jupyter/nbgrader_config.py" <<EOF
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "$CLASS_COURSE"
c.Exchange.root = "$CLASS_PREFIX/exchange"
EOF

    local proxy
    proxy="$(command -v configurable-http-proxy || true)"
    if [ -z "$proxy" ]; then
        echo "== configurable-http-proxy, from npm, into $CLASS_PREFIX/proxy"
        npm install --silent --no-audit --no-fund --prefix "$CLASS_PREFIX/proxy" configurable-http-proxy
        proxy="$CLASS_PREFIX/proxy/node_modules/.bin/configurable-http-proxy"
    fi

    echo "== users: $CLASS_TEACHER (teacher), ${CLASS_LEARNERS:-no new learners} (group $CLASS_GROUP)"
    getent group "$CLASS_GROUP" >/dev/null || groupadd "$CLASS_GROUP"
    local user
    for user in "$CLASS_TEACHER" $CLASS_LEARNERS; do
        getent passwd "$user" >/dev/null || useradd --create-home --shell /bin/bash "$user"
    done
    # The group may log in; the teacher is in it too (and the hub's admin).
    for user in "$CLASS_TEACHER" $CLASS_LEARNERS; do
        usermod --append --groups "$CLASS_GROUP" "$user"
    done

    cat > "$CLASS_PREFIX/class.conf" <<EOF
# written by classroom/class.sh setup; read by class.sh and jupyterhub_config.py
CLASS_TEACHER=$(printf %q "$CLASS_TEACHER")
CLASS_GROUP=$(printf %q "$CLASS_GROUP")
CLASS_COURSE=$(printf %q "$CLASS_COURSE")
CLASS_NOFILE=$(printf %q "$CLASS_NOFILE")
CLASS_PROXY=$(printf %q "$proxy")
CLASS_HANDOUT=$(printf %q "$CLASS_HANDOUT")
EOF
    load

    # Private homes: Debian's useradd makes them 0755, so learners could read each other's work.
    # (HOME_MODE 0700 in /etc/login.defs does it for accounts made later.)
    for user in "$CLASS_TEACHER" $(members); do chmod 0700 "$(home_of "$user")"; done

    echo "== the teacher's private copy of the solutions, and the nbgrader course"
    rm -rf "$TEACHER_HOME/solutions"
    cp -r "$CLASS_SOLUTIONS" "$TEACHER_HOME/solutions"
    mkdir -p "$TEACHER_HOME/course/source"
    cat > "$TEACHER_HOME/course/nbgrader_config.py" <<'EOF'
from eventloop.grading.nbgrader_stubs import configure

c = get_config()  # noqa: F821  (nbgrader provides it)
configure(c)
EOF
    chown -R "$CLASS_TEACHER:" "$TEACHER_HOME/solutions" "$TEACHER_HOME/course"
    handout
}

handout() {  # the hand-out into every learner's home, as that learner; work in progress is kept
    local user home
    for user in $(members); do
        home="$(home_of "$user")"
        if [ -e "$home/event-loop-io" ]; then
            echo "$user: ~/event-loop-io exists, left as it is"
            continue
        fi
        tar -C "$CLASS_HANDOUT" -cf - notebooks exercises PITFALLS.md README.md \
            | as_user "$user" sh -c 'mkdir event-loop-io && tar -C event-loop-io -xf -'
        echo "$user: ~/event-loop-io handed out"
    done
}

release() {  # release ASSIGNMENT CHAPTER...: solutions/CHAPTER.ipynb into an nbgrader assignment
    local assignment="$1" chapter
    shift
    [ "$#" -gt 0 ] || fail "usage: class.sh release ASSIGNMENT CHAPTER... (e.g. ps1 03-select)"
    as_user "$CLASS_TEACHER" mkdir -p "course/source/$assignment"
    for chapter in "$@"; do
        as_user "$CLASS_TEACHER" cp "solutions/$chapter.ipynb" "course/source/$assignment/"
    done
    as_user "$CLASS_TEACHER" sh -c "cd course && nbgrader generate_assignment --force '$assignment' \
        && nbgrader release_assignment --force '$assignment'"
}

collect() {  # collect [FOLDER]: one folder per learner, each file read with the learner's rights
    local from="${1:-event-loop-io/exercises}" user home
    as_user "$CLASS_TEACHER" mkdir -p submissions
    for user in $(members); do
        home="$(home_of "$user")"
        # tar runs as the learner (a symlink to a file they cannot read stays unread), and
        # unpacks as the teacher: root never copies a learner's file itself.
        as_user "$CLASS_TEACHER" mkdir -p "submissions/$user"
        if as_user "$user" test -d "$home/$from"; then
            as_user "$user" sh -c 'cd "$1" && find . -maxdepth 1 -type f -name "*.ipynb" -print0 \
                | tar --null -T - -cf -' sh "$home/$from" \
                | as_user "$CLASS_TEACHER" tar -C "submissions/$user" -xf -
        fi
        echo "$user: $(as_user "$CLASS_TEACHER" sh -c "ls submissions/$user | wc -l") notebook(s)"
    done
}

grade() {  # grade [OPTIONS]: the course's grader, as the teacher, with the private solutions
    as_user "$CLASS_TEACHER" python -m eventloop grade submissions --solutions solutions \
        --csv grades.csv "$@"
}

autograde() {  # autograde ASSIGNMENT: nbgrader's side, as the teacher
    local assignment="$1"
    as_user "$CLASS_TEACHER" sh -c "cd course && nbgrader collect '$assignment' \
        && nbgrader autograde '$assignment' && nbgrader export --to grades.csv"
}

remove_users() {
    local user
    for user in $(members) "$CLASS_TEACHER"; do
        userdel --remove "$user" 2>/dev/null || userdel "$user"
    done
    groupdel "$CLASS_GROUP" || true
}

command="${1:-}"
[ "$#" -gt 0 ] && shift
case "$command" in
    setup) setup ;;
    handout) load; handout ;;
    release) load; release "$@" ;;
    collect) load; collect "$@" ;;
    grade) load; grade "$@" ;;
    autograde) load; autograde "$@" ;;
    remove-users) load; remove_users ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
esac
