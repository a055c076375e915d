<?php
/*
 * peer_php.php - php-stomp (PECL stomp, written in C), the fastest peer we know, on the same
 * fixtures as libstomp.
 *
 *   php peer_php.php publish PORT N [BODY_BYTES]   against fixture_swallow
 *   php peer_php.php receive PORT N                against fixture_blast --eol (php-stomp needs
 *                                                  the EOL after each NUL)
 *   php peer_php.php broker-pubsub PORT N [BODY_BYTES]   against RabbitMQ
 *
 * publish: N send() calls with a content type and two headers; the last one carries a receipt,
 * which php-stomp waits for, so the time covers the server having read everything (its close()
 * sends DISCONNECT without a receipt). broker-pubsub: one connection subscribes to a queue of its own,
 * another sends N messages to it (via /amq/queue/, which does not redeclare it), then the first reads
 * them (one thread: RabbitMQ holds them meanwhile); timed until the N-th is read. Prints "php-stomp MODE msgs seconds msg_per_s cpu_seconds".
 */
function cpu() {
    $r = getrusage();
    return $r['ru_utime.tv_sec'] + $r['ru_utime.tv_usec'] / 1e6
         + $r['ru_stime.tv_sec'] + $r['ru_stime.tv_usec'] / 1e6;
}

function result($mode, $n, $t, $c) {
    printf("php-stomp %s %d %.6f %.0f %.6f\n", $mode, $n, $t, $n / $t, $c);
}

$mode = $argv[1];
$port = (int)$argv[2];
$n = (int)$argv[3];
$bytes = isset($argv[4]) ? (int)$argv[4] : 100;

$s = new Stomp("tcp://127.0.0.1:$port", "guest", "guest", ['accept-version' => '1.2', 'host' => '/']);
if ($mode === 'publish') {
    $body = str_repeat('x', $bytes);
    $headers = ['content-type' => 'text/plain', 'x-bench-a' => 'alpha', 'x-bench-b' => 'beta'];
    $t0 = hrtime(true); $c0 = cpu();
    for ($i = 1; $i < $n; $i++) {
        $s->send('/queue/bench', $body, $headers);
    }
    $s->send('/queue/bench', $body, $headers + ['receipt' => 'bench-end']);
    $t = (hrtime(true) - $t0) / 1e9; $c = cpu() - $c0;
    result('publish', $n, $t, $c);
} elseif ($mode === 'receive') {
    $s->setReadTimeout(30);
    $t0 = hrtime(true); $c0 = cpu();
    $s->subscribe('/queue/bench', ['id' => '0', 'ack' => 'auto']);
    for ($i = 0; $i < $n;) {
        $f = $s->readFrame();
        if ($f === false) { fwrite(STDERR, "php-stomp: read timed out after $i messages\n"); exit(1); }
        if ($f->command === 'MESSAGE') $i++;
    }
    $t = (hrtime(true) - $t0) / 1e9; $c = cpu() - $c0;
    result('receive', $n, $t, $c);
} elseif ($mode === 'broker-pubsub') {
    $pub = new Stomp("tcp://127.0.0.1:$port", "guest", "guest", ['accept-version' => '1.2', 'host' => '/']);
    $name = 'libstomp-bench-pubsub-php-' . getmypid();
    $body = str_repeat('x', $bytes);
    $s->setReadTimeout(30);
    // With a receipt header php-stomp waits for the RECEIPT: the queue exists before the first send.
    $s->subscribe("/queue/$name", ['id' => '0', 'ack' => 'auto', 'durable' => 'false',
                                   'auto-delete' => 'true', 'receipt' => 'bench-sub']);
    $t0 = hrtime(true); $c0 = cpu();
    for ($i = 0; $i < $n; $i++) {
        $pub->send("/amq/queue/$name", $body, ['content-type' => 'text/plain']);
    }
    for ($i = 0; $i < $n;) {
        $f = $s->readFrame();
        if ($f === false) { fwrite(STDERR, "php-stomp: read timed out after $i messages\n"); exit(1); }
        if ($f->command === 'MESSAGE') $i++;
    }
    $t = (hrtime(true) - $t0) / 1e9; $c = cpu() - $c0;
    result('broker-pubsub', $n, $t, $c);
    unset($pub);
} else {
    fwrite(STDERR, "unknown mode $mode\n");
    exit(2);
}
unset($s);
