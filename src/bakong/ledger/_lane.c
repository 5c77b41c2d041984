/* bakong.ledger._lane: a block's transfer path, compiled.
 *
 * Why it exists: on a retail payment network nearly every transaction is one transfer signed
 * by its paying account, and the state machine must stay far cheaper than the Ed25519 check of
 * that transaction's signature (issue 2: ratio >= 5). In Python the path's cost is object
 * operations (attribute reads, dict lookups, tuples, records), which compiling the Python does
 * not remove; here they are direct C-API calls with no interpreter between them.
 *
 * The rules are not written here first: the general path in Python (`bakong.ledger.ladder`,
 * `bakong.ledger.money`) is the one specification, and a machine without a C compiler runs
 * only it. What this module holds:
 * - `execute_transactions`: a block's transactions in order, after one prefetch of the keys
 *   they read (`block._keys_read`, `StateView.prefetch`). A transaction of the lane's shape
 *   (one `Transfer`, one signature, an account creator) runs the ladder's rungs 1-11 and
 *   `money.transfer`'s rungs in their order, with their result codes, writing the same records
 *   through the view; any other goes to `general`, the Python path.
 *   `tests/ledger/test_transfer_lane.py` holds it to the general path, rung by rung.
 * - `changes` (`StateView.changes`), `account_deltas` (`StateView.account_deltas`) and
 *   `cached_records` (`DecodedRecords.records`): the same answers as those Python methods,
 *   which run where this is not built (`tests/ledger/test_state_compiled.py`).
 *
 * What it reads of Python objects is what the Python declares for it: `Context`'s public
 * attributes, `StateView.parts()` (`ViewParts`), `StateReader.records`, and records' fields by
 * name. A record it writes is `msgspec.structs.replace` of the record it read, with only the
 * fields the transfer changes, so a field added to a record is carried, never dropped.
 * Types are checked where the C code relies on them; anything unexpected raises, it never
 * guesses. Module state is global: `configure` is called once, at import of
 * `bakong.ledger.transfer_lane`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Interned attribute and method names. */
static PyObject *s_payload, *s_commands, *s_creator, *s_signatures, *s_chain_id, *s_created_ms,
    *s_public_key, *s_signature, *s_status, *s_account_id, *s_signatories, *s_quorum, *s_tier,
    *s_day, *s_outgoing, *s_balances, *s_held, *s_source, *s_target,
    *s_asset, *s_amount, *s_institutional_per_transfer, *s_basic_balance_max,
    *s_read, *s_account_participant_status, *s_view, *s_time_ms, *s_policy, *s_verify,
    *s_signature_prefix, *s_seen_in_block, *s_daily_limits, *s_participant_statuses, *s_parts,
    *s_tx, *s_block, *s_original, *s_written, *s_base, *s_records, *s_daily_limit;

/* A record's field, read straight from its slot. Records are msgspec Structs, whose fields are
 * member descriptors at fixed offsets; `PyObject_GetAttr` finds the descriptor through the type
 * on every read. Each call site of `FIELD` remembers the (type, offset) it last resolved, and
 * reads the slot directly while the object is of that type; anything else (another type, a
 * type with its own attribute lookup, an unset slot) takes `PyObject_GetAttr`. The resolved
 * type is kept alive for good, so its address can never name another type. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t offset;
} FieldSite;

static PyObject *field(PyObject *owner, PyObject *name, FieldSite *site) {
    PyTypeObject *type = Py_TYPE(owner);
    if (type == site->type) {
        PyObject *value = *(PyObject **)((char *)owner + site->offset);
        if (value != NULL) return Py_NewRef(value);
    } else if (site->type == NULL && type->tp_getattro == PyObject_GenericGetAttr) {
        PyObject *descriptor = _PyType_Lookup(type, name);
        if (descriptor != NULL && Py_IS_TYPE(descriptor, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
            if (member->type == T_OBJECT_EX) {
                site->offset = member->offset;
                site->type = (PyTypeObject *)Py_NewRef(type);
            }
        }
    }
    return PyObject_GetAttr(owner, name);
}

#define FIELD(owner, name) \
    ({ static FieldSite site_; field((owner), s_##name, &site_); })

/* Every result code the lane can return, `ok` first, then its rungs in order: `RESULT_CODES`
 * in the module, so the differential test can require each one reached. */
#define LANE_CODES(X) X(ok) X(chain_id_mismatch) X(created_in_future) X(expired) \
    X(duplicate_transaction) X(creator_invalid) X(creator_not_found) X(creator_not_active) \
    X(signature_invalid) X(signature_key_not_signatory) X(signature_quorum_not_met) \
    X(permission_denied) X(amount_must_be_positive) X(accounts_must_be_different) \
    X(target_account_not_found) X(target_account_not_active) \
    X(source_participant_receive_only) X(target_participant_send_only) X(transfer_cap_exceeded) \
    X(daily_limit_exceeded) X(insufficient_funds) X(balance_overflow) X(balance_cap_exceeded)

/* What `configure` was given: types, enum members, limits and result codes from Python. */
static struct {
    int ready;
    PyObject *transfer_type, *replace, *khr, *institutional, *basic, *active;
    PyObject *suspended, *send_only, *receive_only;  /* `ParticipantStatus` members */
    PyObject *future_ms_max, *past_ms_max, *amount_max, *is_account_id;
    PyObject *zero, *one, *zero_pair;
    /* Keyword names of the fields a transfer changes, for `replace`. */
    PyObject *debited_fields, *credited_fields;
#define DECLARE(name) long name;
    LANE_CODES(DECLARE)
#undef DECLARE
} cfg;

/* One block's execution: the context's fields and the view's parts (`StateView.parts`), read
 * once (and again after each transaction of the general path, which may change the policy). */
typedef struct {
    PyObject *context, *view, *chain_id, *latest_ms, *earliest_ms, *day, *policy, *verify,
        *prefix, *seen, *limits, *participant_statuses, *base, *tx, *block, *original, *written;
    PyObject *keys_alive;  /* the prefetched keys, which `Keys` borrow (not cleared on reload) */
} Block;

static void block_clear(Block *b) {
    Py_CLEAR(b->view); Py_CLEAR(b->chain_id); Py_CLEAR(b->latest_ms); Py_CLEAR(b->earliest_ms);
    Py_CLEAR(b->day); Py_CLEAR(b->policy); Py_CLEAR(b->verify); Py_CLEAR(b->prefix);
    Py_CLEAR(b->seen); Py_CLEAR(b->limits); Py_CLEAR(b->participant_statuses);
    Py_CLEAR(b->base); Py_CLEAR(b->tx);
    Py_CLEAR(b->block); Py_CLEAR(b->original); Py_CLEAR(b->written);
}

static PyObject *get_typed(PyObject *owner, PyObject *name, PyTypeObject *type) {
    PyObject *value = PyObject_GetAttr(owner, name);
    if (value != NULL && type != NULL && !Py_IS_TYPE(value, type)) {
        PyErr_Format(PyExc_TypeError, "%R.%U is %.100s, not %.100s", Py_TYPE(owner), name,
                     Py_TYPE(value)->tp_name, type->tp_name);
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

static int block_load(Block *b, PyObject *context) {
    PyObject *time_ms = NULL, *parts = NULL;
    block_clear(b);
    b->context = context;
    if (!(b->view = PyObject_GetAttr(context, s_view))) goto fail;
    if (!(b->chain_id = get_typed(context, s_chain_id, &PyUnicode_Type))) goto fail;
    if (!(time_ms = get_typed(context, s_time_ms, &PyLong_Type))) goto fail;
    if (!(b->latest_ms = PyNumber_Add(time_ms, cfg.future_ms_max))) goto fail;
    if (!(b->earliest_ms = PyNumber_Subtract(time_ms, cfg.past_ms_max))) goto fail;
    Py_CLEAR(time_ms);
    if (!(b->day = PyObject_GetAttr(context, s_day))) goto fail;
    if (!(b->policy = PyObject_GetAttr(context, s_policy))) goto fail;
    if (!(b->verify = PyObject_GetAttr(context, s_verify))) goto fail;
    if (!(b->prefix = get_typed(context, s_signature_prefix, &PyBytes_Type))) goto fail;
    if (!(b->seen = get_typed(context, s_seen_in_block, &PyDict_Type))) goto fail;
    if (!(b->limits = get_typed(context, s_daily_limits, &PyDict_Type))) goto fail;
    if (!(b->participant_statuses = get_typed(context, s_participant_statuses, &PyDict_Type)))
        goto fail;
    if (!(parts = PyObject_CallMethodNoArgs(b->view, s_parts))) goto fail;
    if (!(b->base = PyObject_GetAttr(parts, s_base))) goto fail;
    if (!(b->tx = get_typed(parts, s_tx, &PyDict_Type))) goto fail;
    if (!(b->block = get_typed(parts, s_block, &PyDict_Type))) goto fail;
    if (!(b->original = get_typed(parts, s_original, &PyDict_Type))) goto fail;
    if (!(b->written = get_typed(parts, s_written, &PySet_Type))) goto fail;
    Py_DECREF(parts);
    return 0;
fail:
    Py_XDECREF(time_ms);
    Py_XDECREF(parts);
    return -1;
}

/* prefix || text's UTF-8: a state key ("a/" + account ID). */
static PyObject *make_key(const char *prefix, PyObject *text) {
    const char *data;
    Py_ssize_t size;
    if (PyUnicode_Check(text)) {
        data = PyUnicode_AsUTF8AndSize(text, &size);
        if (data == NULL) return NULL;
    } else if (PyBytes_Check(text)) {
        data = PyBytes_AS_STRING(text);
        size = PyBytes_GET_SIZE(text);
    } else {
        PyErr_SetString(PyExc_TypeError, "a key is built from str or bytes");
        return NULL;
    }
    PyObject *key = PyBytes_FromStringAndSize(NULL, size + 2);
    if (key == NULL) return NULL;
    char *out = PyBytes_AS_STRING(key);
    out[0] = prefix[0];
    out[1] = prefix[1];
    memcpy(out + 2, data, (size_t)size);
    return key;
}

/* "s/" || created_ms, 8 bytes big-endian || hash: a replay key (`state.seen_key`). */
static PyObject *make_seen_key(PyObject *created_ms, PyObject *hash) {
    unsigned long long ms = PyLong_AsUnsignedLongLong(created_ms);
    if (ms == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (!PyBytes_Check(hash)) {
        PyErr_SetString(PyExc_TypeError, "a transaction hash is bytes");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(hash);
    PyObject *key = PyBytes_FromStringAndSize(NULL, size + 10);
    if (key == NULL) return NULL;
    char *out = PyBytes_AS_STRING(key);
    out[0] = 's';
    out[1] = '/';
    for (int i = 0; i < 8; i++) out[2 + i] = (char)(ms >> (56 - 8 * i));
    memcpy(out + 10, PyBytes_AS_STRING(hash), (size_t)size);
    return key;
}

/* `StateView.read(key)`: a new reference (None when absent), NULL on error. */
static PyObject *view_read(Block *b, PyObject *key) {
    if (PyDict_GET_SIZE(b->tx) == 0) {
        PyObject *value = PyDict_GetItemWithError(b->block, key);
        if (value != NULL) return Py_NewRef(value);
        if (PyErr_Occurred()) return NULL;
    }
    return PyObject_CallMethodOneArg(b->view, s_read, key);
}

/* `StateView.put(key, value)`: the key has been read this block. */
static int view_put(Block *b, PyObject *key, PyObject *value) {
    if (PyDict_GET_SIZE(b->tx) != 0) {
        PyErr_SetString(PyExc_AssertionError, "a transaction is open");
        return -1;
    }
    int known = PyDict_Contains(b->original, key);
    if (known < 0) return -1;
    if (!known) {
        PyObject *before = PyDict_GetItemWithError(b->block, key);
        if (before == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
            return -1;
        }
        if (PyDict_SetItem(b->original, key, before) < 0) return -1;
    }
    if (PySet_Add(b->written, key) < 0) return -1;
    return PyDict_SetItem(b->block, key, value);
}

/* The participant code of an account ID: the text after its first "@"; NULL with no error
 * when there is none (the Python method is then asked, and raises as Python does), NULL with
 * an error when out of memory. */
static PyObject *participant_of(PyObject *account_id) {
    if (!PyUnicode_Check(account_id)) return NULL;
    Py_ssize_t length = PyUnicode_GET_LENGTH(account_id);
    Py_ssize_t at = PyUnicode_FindChar(account_id, '@', 0, length, 1);
    if (at < 0) return NULL;  /* -2 (an error) is impossible for a str; -1 is "absent" */
    return PyUnicode_Substring(account_id, at + 1, length);
}

/* `Context.account_participant_status(account_id)`: a new reference to the status of the
 * account's participant, from the block's memo where it is there, else from Python (which
 * fills the memo, or raises for an ID without "@" as Python does); NULL on error. */
static PyObject *participant_status(Block *b, PyObject *account_id) {
    PyObject *code = participant_of(account_id);
    if (code == NULL && PyErr_Occurred()) return NULL;
    if (code != NULL) {
        PyObject *status = PyDict_GetItemWithError(b->participant_statuses, code);
        Py_DECREF(code);
        if (status != NULL) return Py_NewRef(status);
        if (PyErr_Occurred()) return NULL;
    }
    return PyObject_CallMethodOneArg(b->context, s_account_participant_status, account_id);
}

/* Whether the participant of `account_id` has the status `wanted` (an enum member, compared by
 * identity as Python does): 1, 0, or -1 on error. */
static int participant_status_is(Block *b, PyObject *account_id, PyObject *wanted) {
    PyObject *status = participant_status(b, account_id);
    if (status == NULL) return -1;
    Py_DECREF(status);
    return status == wanted;
}

/* `Context.account_is_active(account)`: active, and its participant not suspended; 1, 0, or
 * -1 on error. */
static int account_is_active(Block *b, PyObject *account) {
    PyObject *status = FIELD(account, status);
    if (status == NULL) return -1;
    Py_DECREF(status);  /* an enum member: compared by identity, as Python does */
    if (status != cfg.active) return 0;
    PyObject *account_id = FIELD(account, account_id);
    if (account_id == NULL) return -1;
    int suspended = participant_status_is(b, account_id, cfg.suspended);
    Py_DECREF(account_id);
    return suspended < 0 ? -1 : !suspended;
}

/* `Context.daily_limit(account_id, tier, index)`: a new reference, NULL on error. */
static PyObject *daily_limit(Block *b, PyObject *account_id, PyObject *tier, Py_ssize_t index) {
    PyObject *code = participant_of(account_id);
    if (code == NULL && PyErr_Occurred()) return NULL;
    if (code != NULL) {
        PyObject *tier_value = PyNumber_Index(tier);  /* an IntEnum member as a plain int */
        if (tier_value == NULL) {
            Py_DECREF(code);
            return NULL;
        }
        PyObject *key = Py_BuildValue("(NNn)", code, tier_value, index);
        if (key == NULL) return NULL;
        PyObject *limit = PyDict_GetItemWithError(b->limits, key);
        Py_DECREF(key);
        if (limit != NULL) return Py_NewRef(limit);
        if (PyErr_Occurred()) return NULL;
    }
    PyObject *index_value = PyLong_FromSsize_t(index);
    if (index_value == NULL) return NULL;
    PyObject *args[4] = {b->context, account_id, tier, index_value};
    PyObject *limit = PyObject_VectorcallMethod(s_daily_limit, args,
                                                4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(index_value);
    return limit;
}

/* `sequence[index]` for a tuple (a record's field): a borrowed reference, NULL on error. */
static PyObject *item(PyObject *sequence, Py_ssize_t index) {
    if (!PyTuple_Check(sequence) || PyTuple_GET_SIZE(sequence) <= index) {
        PyErr_Format(PyExc_TypeError, "expected a tuple of at least %zd items", index + 1);
        return NULL;
    }
    return PyTuple_GET_ITEM(sequence, index);
}

/* `a op b` for Python objects: 1, 0, or -1 on error. */
static int compare(PyObject *a, PyObject *b, int op) { return PyObject_RichCompareBool(a, b, op); }

/* The pair `pair` with `value` at `index`: a new reference. */
static PyObject *with_item(PyObject *pair, Py_ssize_t index, PyObject *value) {
    PyObject *other = item(pair, 1 - index);
    if (other == NULL) return NULL;
    return index == 0 ? PyTuple_Pack(2, value, other) : PyTuple_Pack(2, other, value);
}

/* `msgspec.structs.replace(record, **{names[i]: values[i]})`: a new reference, NULL on error.
 * Every other field is carried as it is, whatever fields the record's type has. */
static PyObject *replaced(PyObject *record, PyObject *names, PyObject *const *values) {
    Py_ssize_t count = PyTuple_GET_SIZE(names);
    PyObject *args[4] = {record};
    assert(count <= 3);
    for (Py_ssize_t i = 0; i < count; i++) args[1 + i] = values[i];
    return PyObject_Vectorcall(cfg.replace, args, 1, names);
}

/* Rungs 1-11 (`ladder.check_envelope`) for an account creator with one signature. The
 * creator's account is read before its ID is checked: every stored account's ID is valid, so
 * rung 5 (`creator_invalid`) is decided only when none is found. Sets
 * `*code`; on `ok`, `*source` is a new reference to the creator's account. -1 on error. */
static int envelope(Block *b, PyObject *payload, PyObject *creator, PyObject *entry,
                    PyObject *tx_hash, PyObject *seen_key, PyObject *creator_key, long *code,
                    PyObject **source) {
    PyObject *value = NULL, *account = NULL, *public_key = NULL, *message = NULL,
             *signature = NULL;
    int status = -1, check;
    *source = NULL;
    if (!(value = FIELD(payload, chain_id))) goto done;
    if ((check = compare(value, b->chain_id, Py_NE)) < 0) goto done;
    if (check) { *code = cfg.chain_id_mismatch; status = 0; goto done; }
    Py_CLEAR(value);
    if (!(value = FIELD(payload, created_ms))) goto done;
    if ((check = compare(value, b->latest_ms, Py_GT)) < 0) goto done;
    if (check) { *code = cfg.created_in_future; status = 0; goto done; }
    if ((check = compare(value, b->earliest_ms, Py_LT)) < 0) goto done;
    if (check) { *code = cfg.expired; status = 0; goto done; }
    Py_CLEAR(value);
    if ((check = PyDict_Contains(b->seen, tx_hash)) < 0) goto done;
    if (!check) {
        if (!(value = view_read(b, seen_key))) goto done;
        check = value != Py_None;
        Py_CLEAR(value);
    }
    if (check) { *code = cfg.duplicate_transaction; status = 0; goto done; }
    if (!(account = view_read(b, creator_key))) goto done;
    if (account == Py_None) {
        if (!(value = PyObject_CallOneArg(cfg.is_account_id, creator))) goto done;
        if ((check = PyObject_IsTrue(value)) < 0) goto done;
        *code = check ? cfg.creator_not_found : cfg.creator_invalid;
        status = 0;
        goto done;
    }
    if ((check = account_is_active(b, account)) < 0) goto done;
    if (!check) { *code = cfg.creator_not_active; status = 0; goto done; }
    if (!(public_key = FIELD(entry, public_key))) goto done;
    if (!(signature = FIELD(entry, signature))) goto done;
    if (!PyBytes_Check(tx_hash)) {
        PyErr_SetString(PyExc_TypeError, "a transaction hash is bytes");
        goto done;
    }
    if (!(message = PyBytes_FromStringAndSize(NULL, PyBytes_GET_SIZE(b->prefix) +
                                                        PyBytes_GET_SIZE(tx_hash))))
        goto done;
    memcpy(PyBytes_AS_STRING(message), PyBytes_AS_STRING(b->prefix),
           (size_t)PyBytes_GET_SIZE(b->prefix));
    memcpy(PyBytes_AS_STRING(message) + PyBytes_GET_SIZE(b->prefix), PyBytes_AS_STRING(tx_hash),
           (size_t)PyBytes_GET_SIZE(tx_hash));
    {
        PyObject *args[3] = {public_key, message, signature};
        if (!(value = PyObject_Vectorcall(b->verify, args, 3, NULL))) goto done;
    }
    if ((check = PyObject_IsTrue(value)) < 0) goto done;
    if (!check) { *code = cfg.signature_invalid; status = 0; goto done; }
    Py_CLEAR(value);
    if (!(value = FIELD(account, signatories))) goto done;
    if ((check = PySequence_Contains(value, public_key)) < 0) goto done;
    if (!check) { *code = cfg.signature_key_not_signatory; status = 0; goto done; }
    Py_CLEAR(value);
    if (!(value = FIELD(account, quorum))) goto done;
    if ((check = compare(value, cfg.one, Py_NE)) < 0) goto done;
    if (check) { *code = cfg.signature_quorum_not_met; status = 0; goto done; }
    *code = cfg.ok;
    *source = Py_NewRef(account);
    status = 0;
done:
    Py_XDECREF(value); Py_XDECREF(account); Py_XDECREF(public_key);
    Py_XDECREF(message); Py_XDECREF(signature);
    return status;
}

/* `money.transfer`'s rungs, then both writes; `source` is the creator's account, which the
 * envelope found active, so `permission_denied` and the direction rung are the only source
 * rungs left. The debit and
 * credit rungs are `money.debit` and `money.credit`. Every check comes before the first
 * write, so a rejection leaves nothing to roll back. -1 on error. */
static int transfer(Block *b, PyObject *command, PyObject *target_key, PyObject *source,
                    long *code) {
    PyObject *source_id = NULL, *value = NULL, *amount = NULL, *target_id = NULL,
             *target = NULL, *asset = NULL, *day = NULL, *outgoing = NULL,
             *tier = NULL, *sent = NULL, *limit = NULL, *source_balances = NULL,
             *remaining = NULL, *target_balances = NULL, *received = NULL, *held = NULL,
             *total = NULL, *new_source_balances = NULL, *new_target_balances = NULL,
             *new_outgoing = NULL, *source_key = NULL, *record = NULL;
    int status = -1, check;
    Py_ssize_t index;
#define REJECT(result) do { *code = cfg.result; status = 0; goto done; } while (0)
    if (!(source_id = FIELD(source, account_id))) goto done;
    if (!(value = FIELD(command, source))) goto done;
    if ((check = compare(value, source_id, Py_NE)) < 0) goto done;
    if (check) REJECT(permission_denied);
    Py_CLEAR(value);
    if (!(amount = FIELD(command, amount))) goto done;
    if ((check = compare(amount, cfg.zero, Py_LE)) < 0) goto done;
    if (check) REJECT(amount_must_be_positive);
    if (!(target_id = FIELD(command, target))) goto done;
    if ((check = compare(target_id, source_id, Py_EQ)) < 0) goto done;
    if (check) REJECT(accounts_must_be_different);
    if (!(target = view_read(b, target_key))) goto done;
    if (target == Py_None) REJECT(target_account_not_found);
    if ((check = account_is_active(b, target)) < 0) goto done;
    if (!check) REJECT(target_account_not_active);
    /* Direction rungs (`money.transfer_direction`). */
    if ((check = participant_status_is(b, source_id, cfg.receive_only)) < 0) goto done;
    if (check) REJECT(source_participant_receive_only);
    if ((check = participant_status_is(b, target_id, cfg.send_only)) < 0) goto done;
    if (check) REJECT(target_participant_send_only);
    if (!(asset = FIELD(command, asset))) goto done;
    index = asset == cfg.khr ? 0 : 1;
    /* Debit rungs (`money.debit`). */
    if (!(day = FIELD(source, day))) goto done;
    if (!(outgoing = FIELD(source, outgoing))) goto done;
    if (!(tier = FIELD(source, tier))) goto done;
    if (tier == cfg.institutional) {
        if (!(value = PyObject_GetAttr(b->policy, s_institutional_per_transfer))) goto done;
        PyObject *cap = item(value, index);
        if (cap == NULL) goto done;
        if ((check = compare(amount, cap, Py_GT)) < 0) goto done;
        if (check) REJECT(transfer_cap_exceeded);
        Py_CLEAR(value);
        new_outgoing = Py_NewRef(outgoing);
    } else {
        if ((check = compare(day, b->day, Py_NE)) < 0) goto done;
        if (check) {
            Py_SETREF(day, Py_NewRef(b->day));
            Py_SETREF(outgoing, Py_NewRef(cfg.zero_pair));
        }
        PyObject *so_far = item(outgoing, index);
        if (so_far == NULL) goto done;
        if (!(sent = PyNumber_Add(so_far, amount))) goto done;
        if (!(limit = daily_limit(b, source_id, tier, index))) goto done;
        if ((check = compare(sent, limit, Py_GT)) < 0) goto done;
        if (check) REJECT(daily_limit_exceeded);
        if (!(new_outgoing = with_item(outgoing, index, sent))) goto done;
    }
    if (!(source_balances = FIELD(source, balances))) goto done;
    {
        PyObject *balance = item(source_balances, index);
        if (balance == NULL) goto done;
        if (!(remaining = PyNumber_Subtract(balance, amount))) goto done;
    }
    if ((check = compare(remaining, cfg.zero, Py_LT)) < 0) goto done;
    if (check) REJECT(insufficient_funds);
    /* Credit rungs (`money.credit`). */
    if (!(target_balances = FIELD(target, balances))) goto done;
    {
        PyObject *balance = item(target_balances, index);
        if (balance == NULL) goto done;
        if (!(received = PyNumber_Add(balance, amount))) goto done;
    }
    if (!(held = FIELD(target, held))) goto done;
    {
        PyObject *held_amount = item(held, index);
        if (held_amount == NULL) goto done;
        if (!(total = PyNumber_Add(received, held_amount))) goto done;
    }
    if ((check = compare(total, cfg.amount_max, Py_GT)) < 0) goto done;
    if (check) REJECT(balance_overflow);
    Py_CLEAR(tier);
    if (!(tier = FIELD(target, tier))) goto done;
    if (tier == cfg.basic) {
        if (!(value = PyObject_GetAttr(b->policy, s_basic_balance_max))) goto done;
        PyObject *cap = item(value, index);
        if (cap == NULL) goto done;
        if ((check = compare(received, cap, Py_GT)) < 0) goto done;
        if (check) REJECT(balance_cap_exceeded);
        Py_CLEAR(value);
    }
    if (!(new_source_balances = with_item(source_balances, index, remaining))) goto done;
    if (!(new_target_balances = with_item(target_balances, index, received))) goto done;
    if (!(source_key = make_key("a/", source_id))) goto done;
    {
        PyObject *debited[3] = {new_source_balances, day, new_outgoing};
        if (!(record = replaced(source, cfg.debited_fields, debited))) goto done;
    }
    if (view_put(b, source_key, record) < 0) goto done;
    Py_CLEAR(record);
    if (!(record = replaced(target, cfg.credited_fields, &new_target_balances))) goto done;
    if (view_put(b, target_key, record) < 0) goto done;
    *code = cfg.ok;
    status = 0;
#undef REJECT
done:
    Py_XDECREF(source_id); Py_XDECREF(value); Py_XDECREF(amount); Py_XDECREF(target_id);
    Py_XDECREF(target); Py_XDECREF(asset); Py_XDECREF(day);
    Py_XDECREF(outgoing); Py_XDECREF(tier); Py_XDECREF(sent); Py_XDECREF(limit);
    Py_XDECREF(source_balances); Py_XDECREF(remaining); Py_XDECREF(target_balances);
    Py_XDECREF(received); Py_XDECREF(held); Py_XDECREF(total); Py_XDECREF(new_source_balances);
    Py_XDECREF(new_target_balances); Py_XDECREF(new_outgoing); Py_XDECREF(source_key);
    Py_XDECREF(record);
    return status;
}

/* One transaction through the lane (what `execute.execute_transaction` does for the lane's
 * shape): 1 and its `TxResult` in `*result` when the lane took it, 0 when it is not of the
 * lane's shape, -1 on error. */
typedef struct {
    PyObject *seen, *creator, *target;  /* borrowed from the block's prefetch list */
} Keys;

static int run_lane(Block *b, PyObject *transaction, PyObject *tx_hash, const Keys *keys,
                    PyObject *result_type, PyObject **result) {
    PyObject *payload = NULL, *commands = NULL, *creator = NULL, *signatures = NULL,
             *command = NULL, *entry = NULL, *source = NULL, *code_value = NULL;
    int status = -1;
    long code = 0;
    Py_ssize_t index;
    *result = NULL;
    if (!(payload = FIELD(transaction, payload))) goto done;
    if (!(commands = FIELD(payload, commands))) goto done;
    if (!(creator = FIELD(payload, creator))) goto done;
    if (!(signatures = FIELD(transaction, signatures))) goto done;
    status = 0;  /* not the lane's shape, unless every test below passes */
    if (!PyTuple_Check(commands) || PyTuple_GET_SIZE(commands) != 1) goto done;
    if (!PyTuple_Check(signatures) || PyTuple_GET_SIZE(signatures) != 1) goto done;
    if (!PyUnicode_Check(creator) ||
        PyUnicode_FindChar(creator, '@', 0, PyUnicode_GET_LENGTH(creator), 1) < 0)
        goto done;
    command = PyTuple_GET_ITEM(commands, 0);
    if ((PyObject *)Py_TYPE(command) != cfg.transfer_type) goto done;
    if (keys->creator == NULL || keys->target == NULL) goto done;
    entry = PyTuple_GET_ITEM(signatures, 0);
    status = -1;
    if (envelope(b, payload, creator, entry, tx_hash, keys->seen, keys->creator, &code,
                 &source) < 0)
        goto done;
    if (source == NULL) {
        index = -1;  /* an envelope rung failed: the transaction is not remembered */
    } else {
        if (transfer(b, command, keys->target, source, &code) < 0) goto done;
        if (!(code_value = PyLong_FromLong(code))) goto done;
        if (PyDict_SetItem(b->seen, tx_hash, code_value) < 0) goto done;
        index = code == cfg.ok ? -1 : 0;
    }
    if (code_value == NULL && !(code_value = PyLong_FromLong(code))) goto done;
    {
        PyObject *index_value = PyLong_FromSsize_t(index);
        if (index_value == NULL) goto done;
        PyObject *args[3] = {tx_hash, code_value, index_value};
        *result = PyObject_Vectorcall(result_type, args, 3, NULL);
        Py_DECREF(index_value);
        if (*result == NULL) goto done;
    }
    status = 1;
done:
    Py_XDECREF(payload); Py_XDECREF(commands); Py_XDECREF(creator); Py_XDECREF(signatures);
    Py_XDECREF(source); Py_XDECREF(code_value);
    return status;
}

/* `StateView.prefetch(keys)`: the keys this block has not read yet, read from the store in one
 * `records` call into the block's cache. Returns a new reference to None, NULL on error. */
static PyObject *prefetch_keys(Block *b, PyObject *keys) {
    PyObject *missing = PyList_New(0), *found = NULL;
    PyObject *result = NULL;
    if (missing == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        int known = PyDict_Contains(b->block, key);
        if (known < 0) goto done;
        if (!known && PyList_Append(missing, key) < 0) goto done;
    }
    if (!(found = PyObject_CallMethodOneArg(b->base, s_records, missing))) goto done;
    if (!PyList_Check(found) || PyList_GET_SIZE(found) != PyList_GET_SIZE(missing)) {
        PyErr_SetString(PyExc_ValueError, "records() gave one record per key");
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(missing); i++)
        if (PyDict_SetItem(b->block, PyList_GET_ITEM(missing, i), PyList_GET_ITEM(found, i)) < 0)
            goto done;
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(missing);
    Py_XDECREF(found);
    return result;
}

/* The keys the block's transactions will read first, prefetched in one `StateView.prefetch`
 * call, in the order of `block._keys_read`: every replay entry, then each creator's account and
 * its transfers' targets. Each transaction's keys are kept for the lane, which reads them. */
static int prefetch(Block *b, PyObject *transactions, PyObject *hashes, Keys *keys) {
    Py_ssize_t count = PySequence_Fast_GET_SIZE(transactions);
    PyObject *list = PyList_New(0), *payload = NULL, *commands = NULL, *creator = NULL,
             *target = NULL, *key = NULL, *answer = NULL, *created_ms = NULL;
    int status = -1;
    if (list == NULL) return -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!(payload = FIELD(PySequence_Fast_GET_ITEM(transactions, i), payload)))
            goto done;
        if (!(created_ms = FIELD(payload, created_ms))) goto done;
        if (!(key = make_seen_key(created_ms, PySequence_Fast_GET_ITEM(hashes, i)))) goto done;
        if (PyList_Append(list, key) < 0) goto done;
        keys[i].seen = key;
        Py_CLEAR(key);
        Py_CLEAR(created_ms);
        Py_CLEAR(payload);
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!(payload = FIELD(PySequence_Fast_GET_ITEM(transactions, i), payload)))
            goto done;
        if (!(creator = FIELD(payload, creator))) goto done;
        if (!(key = make_key("a/", creator))) goto done;
        if (PyList_Append(list, key) < 0) goto done;
        keys[i].creator = key;
        Py_CLEAR(key);
        if (!(commands = FIELD(payload, commands))) goto done;
        if (PyTuple_Check(commands)) {
            for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(commands); j++) {
                PyObject *command = PyTuple_GET_ITEM(commands, j);
                if ((PyObject *)Py_TYPE(command) != cfg.transfer_type) continue;
                if (!(target = FIELD(command, target))) goto done;
                if (!(key = make_key("a/", target))) goto done;
                if (PyList_Append(list, key) < 0) goto done;
                if (keys[i].target == NULL) keys[i].target = key;
                Py_CLEAR(key);
                Py_CLEAR(target);
            }
        }
        Py_CLEAR(payload);
        Py_CLEAR(creator);
        Py_CLEAR(commands);
    }
    if (!(answer = prefetch_keys(b, list))) goto done;
    status = 0;
done:
    Py_XDECREF(payload); Py_XDECREF(commands); Py_XDECREF(creator); Py_XDECREF(target);
    Py_XDECREF(key); Py_XDECREF(answer); Py_XDECREF(created_ms);
    if (status < 0) {
        Py_DECREF(list);
        return -1;
    }
    /* The keys stay alive in `list` until the block is done: `b->keys_alive` owns it. */
    b->keys_alive = list;
    return 0;
}

static PyObject *execute_transactions(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "execute_transactions(context, transactions, tx_hashes, general, "
                        "result_type)");
        return NULL;
    }
    if (!cfg.ready) {
        PyErr_SetString(PyExc_RuntimeError, "bakong.ledger._lane is not configured");
        return NULL;
    }
    PyObject *context = args[0], *general = args[3], *result_type = args[4];
    PyObject *transactions = NULL, *hashes = NULL, *results = NULL;
    Keys *keys = NULL;
    Block b = {0};
    if (!(transactions = PySequence_Fast(args[1], "transactions must be a sequence"))) goto fail;
    if (!(hashes = PySequence_Fast(args[2], "tx_hashes must be a sequence"))) goto fail;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(transactions);
    if (PySequence_Fast_GET_SIZE(hashes) != count) {
        PyErr_SetString(PyExc_ValueError, "one hash per transaction");
        goto fail;
    }
    if (!(results = PyTuple_New(count))) goto fail;
    if (block_load(&b, context) < 0) goto fail;
    if (!(keys = PyMem_Calloc((size_t)count + 1, sizeof(Keys)))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (prefetch(&b, transactions, hashes, keys) < 0) goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *transaction = PySequence_Fast_GET_ITEM(transactions, i);
        PyObject *tx_hash = PySequence_Fast_GET_ITEM(hashes, i);
        PyObject *result;
        int taken = run_lane(&b, transaction, tx_hash, &keys[i], result_type, &result);
        if (taken < 0) goto fail;
        if (!taken) {
            result = PyObject_CallFunctionObjArgs(general, context, transaction, tx_hash, NULL);
            if (result == NULL) goto fail;
            if (block_load(&b, context) < 0) {  /* the general path may change the policy */
                Py_DECREF(result);
                goto fail;
            }
        }
        PyTuple_SET_ITEM(results, i, result);
    }
    block_clear(&b);
    Py_CLEAR(b.keys_alive);
    PyMem_Free(keys);
    Py_DECREF(transactions);
    Py_DECREF(hashes);
    return results;
fail:
    block_clear(&b);
    Py_CLEAR(b.keys_alive);
    PyMem_Free(keys);
    Py_XDECREF(transactions);
    Py_XDECREF(hashes);
    Py_XDECREF(results);
    return NULL;
}

/* `StateView.changes`: the block's writes as (key, canonical bytes or None) pairs sorted by
 * key, and the same writes as (key, record or None) pairs. Each record's type is checked
 * against `types` (first key byte -> record type); records at keys starting with `shared_byte`
 * are shared between keys (a block's replay entries), so each is encoded once. */
#define SHARED_MAX 64
static PyObject *changes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyDict_Check(args[0]) || !PyAnySet_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyLong_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "changes(block: dict, written: set, types: dict, encode, shared_byte)");
        return NULL;
    }
    PyObject *block = args[0], *types_by_byte = args[2], *encode = args[3];
    long shared_byte = PyLong_AsLong(args[4]);
    PyObject *types[256] = {NULL};
    PyObject *shared_records[SHARED_MAX], *shared_data[SHARED_MAX];
    int shared_count = 0;
    PyObject *keys = NULL, *entries = NULL, *written = NULL, *result = NULL;
    Py_ssize_t position = 0;
    PyObject *type_key, *type_value;
    while (PyDict_Next(types_by_byte, &position, &type_key, &type_value)) {
        long byte = PyLong_AsLong(type_key);
        if (byte < 0 || byte > 255) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "a key byte is 0-255");
            return NULL;
        }
        types[byte] = type_value;  /* borrowed: the dict outlives this call */
    }
    if (!(keys = PySequence_List(args[1]))) goto done;
    if (PyList_Sort(keys) < 0) goto done;
    Py_ssize_t count = PyList_GET_SIZE(keys);
    if (!(entries = PyTuple_New(count))) goto done;
    if (!(written = PyTuple_New(count))) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) == 0) {
            PyErr_SetString(PyExc_TypeError, "a state key is non-empty bytes");
            goto done;
        }
        PyObject *value = PyDict_GetItemWithError(block, key);
        if (value == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
            goto done;
        }
        PyObject *pair = PyTuple_Pack(2, key, value);
        if (pair == NULL) goto done;
        PyTuple_SET_ITEM(written, i, pair);
        if (value == Py_None) {
            if (!(pair = PyTuple_Pack(2, key, Py_None))) goto done;
            PyTuple_SET_ITEM(entries, i, pair);
            continue;
        }
        unsigned char first = (unsigned char)PyBytes_AS_STRING(key)[0];
        if (types[first] == NULL || (PyObject *)Py_TYPE(value) != types[first]) {
            PyErr_SetObject(PyExc_AssertionError, key);
            goto done;
        }
        PyObject *data = NULL;
        int slot = -1;
        if (first == shared_byte) {
            for (int j = 0; j < shared_count; j++) {
                if (shared_records[j] == value) {
                    data = Py_NewRef(shared_data[j]);
                    break;
                }
            }
            if (data == NULL && shared_count < SHARED_MAX) slot = shared_count;
        }
        if (data == NULL) {
            if (!(data = PyObject_CallOneArg(encode, value))) goto done;
            if (!PyBytes_Check(data)) {
                Py_DECREF(data);
                PyErr_SetString(PyExc_TypeError, "encode returned no bytes");
                goto done;
            }
            if (slot >= 0) {  /* borrowed: `written` holds the record, `entries` the bytes */
                shared_records[slot] = value;
                shared_data[slot] = data;
                shared_count++;
            }
        }
        pair = PyTuple_Pack(2, key, data);
        Py_DECREF(data);
        if (pair == NULL) goto done;
        PyTuple_SET_ITEM(entries, i, pair);
    }
    result = PyTuple_Pack(2, entries, written);
done:
    Py_XDECREF(keys);
    Py_XDECREF(entries);
    Py_XDECREF(written);
    return result;
}

/* A 128-bit sum as a Python int. */
static PyObject *long_from_int128(__int128 value) {
    if (value >= LLONG_MIN && value <= LLONG_MAX) return PyLong_FromLongLong((long long)value);
    PyObject *high = PyLong_FromLongLong((long long)(value >> 64));
    PyObject *low = PyLong_FromUnsignedLongLong((unsigned long long)value);
    PyObject *shift = PyLong_FromLong(64), *shifted = NULL, *result = NULL;
    if (high && low && shift && (shifted = PyNumber_Lshift(high, shift)))
        result = PyNumber_Or(shifted, low);
    Py_XDECREF(high); Py_XDECREF(low); Py_XDECREF(shift); Py_XDECREF(shifted);
    return result;
}

/* Adds sign * (balances[0] + held[0], balances[1] + held[1]) of `account` to `totals`. 1 when
 * done, 0 when an amount does not fit 64 bits (`StateView.account_deltas` in Python then decides), -1 on error.
 * `*negative` is set when an amount is below zero. */
static int add_account(PyObject *account, int sign, __int128 totals[2], int *negative) {
    PyObject *pairs[2] = {FIELD(account, balances), NULL};
    int status = -1;
    if (pairs[0] == NULL || !(pairs[1] = FIELD(account, held))) goto done;
    for (int p = 0; p < 2; p++) {
        for (Py_ssize_t index = 0; index < 2; index++) {
            PyObject *amount = item(pairs[p], index);
            if (amount == NULL) goto done;
            int overflow;
            long long value = PyLong_AsLongLongAndOverflow(amount, &overflow);
            if (value == -1 && PyErr_Occurred()) goto done;
            if (overflow) { status = 0; goto done; }
            if (value < 0) *negative = 1;
            totals[index] += sign * (__int128)value;
        }
    }
    status = 1;
done:
    Py_XDECREF(pairs[0]);
    Py_XDECREF(pairs[1]);
    return status;
}

/* `StateView.account_deltas`: over the accounts a block wrote, (KHR delta, USD delta, the first
 * written account holding a negative amount or None), each delta being the change in available
 * plus held; None when an amount does not fit 64 bits (the Python method then answers). */
static PyObject *account_deltas(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyAnySet_Check(args[0]) || !PyDict_Check(args[1]) ||
        !PyDict_Check(args[2]) || !PyLong_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "account_deltas(written: set, block: dict, original: dict, account_byte)");
        return NULL;
    }
    PyObject *block = args[1], *original = args[2];
    long account_byte = PyLong_AsLong(args[3]);
    __int128 totals[2] = {0, 0};
    PyObject *negative = Py_None, *iterator = PyObject_GetIter(args[0]), *key;
    if (iterator == NULL) return NULL;
    while ((key = PyIter_Next(iterator)) != NULL) {
        int status = 1;
        if (PyBytes_Check(key) && PyBytes_GET_SIZE(key) > 0 &&
            (unsigned char)PyBytes_AS_STRING(key)[0] == account_byte) {
            PyObject *before = PyDict_GetItemWithError(original, key);
            PyObject *now = before ? PyDict_GetItemWithError(block, key) : NULL;
            if (now == NULL) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
                status = -1;
            }
            if (status > 0 && now != Py_None) {
                int below = 0;
                status = add_account(now, 1, totals, &below);
                if (below && negative == Py_None) negative = now;  /* borrowed from `block` */
            }
            if (status > 0 && before != Py_None) {
                int below = 0;
                status = add_account(before, -1, totals, &below);
            }
        }
        Py_DECREF(key);
        if (status <= 0) {
            Py_DECREF(iterator);
            if (status == 0) Py_RETURN_NONE;
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return NULL;
    PyObject *khr = long_from_int128(totals[0]), *usd = long_from_int128(totals[1]);
    PyObject *result = khr && usd ? PyTuple_Pack(3, khr, usd, negative) : NULL;
    Py_XDECREF(khr);
    Py_XDECREF(usd);
    return result;
}

/* `DecodedRecords.records(keys, get)`: each key's record from `cached` (a dict, or an
 * OrderedDict read as the dict it is), else `decode(key, get(key))` when the store holds it,
 * handed to `insert(key, record)` unless the key's first byte is in `unkept`. */
static PyObject *cached_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyDict_Check(args[0]) || !PyBytes_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "cached_records(cached: dict, keys, get, decode, unkept: bytes, insert)");
        return NULL;
    }
    PyObject *cached = args[0], *get = args[2], *decode = args[3], *insert = args[5];
    const char *unkept = PyBytes_AS_STRING(args[4]);
    size_t unkept_size = (size_t)PyBytes_GET_SIZE(args[4]);
    PyObject *keys = PySequence_Fast(args[1], "keys must be a sequence");
    if (keys == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(keys);
    PyObject *found = PyList_New(count);
    if (found == NULL) goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *key = PySequence_Fast_GET_ITEM(keys, i);
        PyObject *value = PyDict_GetItemWithError(cached, key);
        if (value != NULL) {
            PyList_SET_ITEM(found, i, Py_NewRef(value));
            continue;
        }
        if (PyErr_Occurred()) goto fail;
        PyObject *raw = PyObject_CallOneArg(get, key);
        if (raw == NULL) goto fail;
        if (raw == Py_None) {
            PyList_SET_ITEM(found, i, raw);
            continue;
        }
        PyObject *decode_args[2] = {key, raw};
        value = PyObject_Vectorcall(decode, decode_args, 2, NULL);
        Py_DECREF(raw);
        if (value == NULL) goto fail;
        PyList_SET_ITEM(found, i, value);
        if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) == 0 ||
            memchr(unkept, PyBytes_AS_STRING(key)[0], unkept_size) == NULL) {
            PyObject *insert_args[2] = {key, value};
            PyObject *done = PyObject_Vectorcall(insert, insert_args, 2, NULL);
            if (done == NULL) goto fail;
            Py_DECREF(done);
        }
    }
    Py_DECREF(keys);
    return found;
fail:
    Py_DECREF(keys);
    Py_XDECREF(found);
    return NULL;
}

static int take(PyObject *constants, const char *name, PyObject **slot) {
    PyObject *value = PyDict_GetItemString(constants, name);
    if (value == NULL) {
        PyErr_Format(PyExc_KeyError, "configure: %s is missing", name);
        return -1;
    }
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

static int take_code(PyObject *codes, const char *name, long *slot) {
    PyObject *value = PyDict_GetItemString(codes, name);
    if (value == NULL) {
        PyErr_Format(PyExc_KeyError, "configure: result code %s is missing", name);
        return -1;
    }
    *slot = PyLong_AsLong(value);
    return *slot == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *configure(PyObject *module, PyObject *args) {
    PyObject *constants, *codes;
    if (!PyArg_ParseTuple(args, "O!O!:configure", &PyDict_Type, &constants, &PyDict_Type, &codes))
        return NULL;
    cfg.ready = 0;
    if (take(constants, "transfer_type", &cfg.transfer_type) < 0 ||
        take(constants, "replace", &cfg.replace) < 0 ||
        take(constants, "khr", &cfg.khr) < 0 ||
        take(constants, "institutional", &cfg.institutional) < 0 ||
        take(constants, "basic", &cfg.basic) < 0 ||
        take(constants, "active", &cfg.active) < 0 ||
        take(constants, "suspended", &cfg.suspended) < 0 ||
        take(constants, "send_only", &cfg.send_only) < 0 ||
        take(constants, "receive_only", &cfg.receive_only) < 0 ||
        take(constants, "tx_future_ms_max", &cfg.future_ms_max) < 0 ||
        take(constants, "tx_past_ms_max", &cfg.past_ms_max) < 0 ||
        take(constants, "amount_max", &cfg.amount_max) < 0 ||
        take(constants, "is_account_id", &cfg.is_account_id) < 0)
        return NULL;
#define TAKE(name) if (take_code(codes, #name, &cfg.name) < 0) return NULL;
    LANE_CODES(TAKE)
#undef TAKE
    cfg.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(constants, codes): the types, enum members, limits and result codes the lane "
     "uses, from Python (called once by bakong.ledger.transfer_lane)."},
    {"execute_transactions", (PyCFunction)(void (*)(void))execute_transactions, METH_FASTCALL,
     "execute_transactions(context, transactions, tx_hashes, general, result_type) -> tuple of "
     "results: the lane for transactions of its shape, general(context, transaction, tx_hash) "
     "for the others."},
    {"changes", (PyCFunction)(void (*)(void))changes, METH_FASTCALL,
     "changes(block, written, types, encode, shared_byte) -> (write set, written records): "
     "StateView.changes, compiled."},
    {"account_deltas", (PyCFunction)(void (*)(void))account_deltas, METH_FASTCALL,
     "account_deltas(written, block, original, account_byte) -> (khr delta, usd delta, "
     "negative account or None), or None: StateView.account_deltas, compiled."},
    {"cached_records", (PyCFunction)(void (*)(void))cached_records, METH_FASTCALL,
     "cached_records(cached, keys, get, decode, unkept, insert) -> list: "
     "DecodedRecords.records, compiled."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "bakong.ledger._lane",
    "A block's transfer path, compiled (see bakong.ledger.transfer_lane).", -1, methods,
};

#define INTERN(name) if (!(s_##name = PyUnicode_InternFromString(#name))) return NULL
PyMODINIT_FUNC PyInit__lane(void) {
    INTERN(payload); INTERN(commands); INTERN(creator); INTERN(signatures); INTERN(chain_id);
    INTERN(created_ms); INTERN(public_key); INTERN(signature); INTERN(status);
    INTERN(account_id); INTERN(signatories); INTERN(quorum); INTERN(tier); INTERN(day);
    INTERN(outgoing); INTERN(balances); INTERN(held); INTERN(source); INTERN(target);
    INTERN(asset); INTERN(amount); INTERN(institutional_per_transfer);
    INTERN(basic_balance_max); INTERN(read); INTERN(account_participant_status);
    INTERN(view);
    INTERN(time_ms); INTERN(policy); INTERN(verify); INTERN(signature_prefix);
    INTERN(seen_in_block); INTERN(daily_limits); INTERN(participant_statuses); INTERN(parts);
    INTERN(base); INTERN(tx); INTERN(block); INTERN(original); INTERN(written); INTERN(records);
    INTERN(daily_limit);
    if (!(cfg.zero = PyLong_FromLong(0))) return NULL;
    if (!(cfg.one = PyLong_FromLong(1))) return NULL;
    if (!(cfg.zero_pair = PyTuple_Pack(2, cfg.zero, cfg.zero))) return NULL;
    if (!(cfg.debited_fields = PyTuple_Pack(3, s_balances, s_day, s_outgoing))) return NULL;
    if (!(cfg.credited_fields = PyTuple_Pack(1, s_balances))) return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
#define NAME(name) #name,
    static const char *const code_names[] = {LANE_CODES(NAME)};
#undef NAME
    size_t count = sizeof code_names / sizeof code_names[0];
    PyObject *names = PyTuple_New((Py_ssize_t)count);
    if (names == NULL) goto fail;
    for (size_t i = 0; i < count; i++) {
        PyObject *name = PyUnicode_FromString(code_names[i]);
        if (name == NULL) {
            Py_DECREF(names);
            goto fail;
        }
        PyTuple_SET_ITEM(names, (Py_ssize_t)i, name);
    }
    if (PyModule_AddObject(module, "RESULT_CODES", names) < 0) {
        Py_DECREF(names);
        goto fail;
    }
    return module;
fail:
    Py_DECREF(module);
    return NULL;
}
