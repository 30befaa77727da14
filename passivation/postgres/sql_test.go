package postgres_test

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// execSQL runs statements on a connection of its own.
func execSQL(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
