unsigned long hanoi_moves(int n, int from, int to, int via, int *last_from)
{
    if (n == 0)
        return 0;
    unsigned long moves = hanoi_moves(n - 1, from, via, to, last_from);
    *last_from = from;
    moves += 1;
    moves += hanoi_moves(n - 1, via, to, from, last_from);
    return moves;
}

int ackermann(int m, int n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}
