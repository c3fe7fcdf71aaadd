struct record {
    char name[12];
    int score;
    double weight;
};

int best_record(const struct record *r, int n)
{
    int best = -1;
    double best_value = 0.0;
    for (int i = 0; i < n; i++) {
        double v = r[i].score * r[i].weight;
        if (best < 0 || v > best_value) {
            best = i;
            best_value = v;
        }
    }
    return best;
}
