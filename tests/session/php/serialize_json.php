<?php
// Read a JSON list from standard input; print serialize() of each of its
// items (decoded as associative arrays), one hex line each.
$values = json_decode(stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
foreach ($values as $value) {
    echo bin2hex(serialize($value)), "\n";
}
